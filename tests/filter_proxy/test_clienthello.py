"""The ClientHello hook: decide on the SNI; pass allowed TLS through untouched, close blocked TLS."""

from __future__ import annotations

import pytest

from tests.filter_proxy.conftest import Proxy, built_clienthello, clienthello_data, real_clienthello, run, tls_client
from tests.filter_proxy.test_connect import connect_flow


def test_allowed_sni_is_passed_through_untouched(proxy: Proxy) -> None:
    data = clienthello_data(real_clienthello("www.example.org"))
    proxy.hello.tls_clienthello(data)
    assert data.ignore_connection is True
    assert proxy.server_allowed(data.context.client)
    event = proxy.event()
    assert (event["qtype"], event["host"], event["action"], event["signal"]) == (
        "TLS", "www.example.org", "allow", None)


def test_blocked_sni_is_closed_before_anything_goes_upstream(proxy: Proxy) -> None:
    data = clienthello_data(real_clienthello("m.tiktok.com"))
    proxy.hello.tls_clienthello(data)
    assert data.ignore_connection is True  # no interception, no certificate needed on the device
    assert not proxy.server_allowed(data.context.client)  # server.error set in server_connect
    assert (proxy.event()["host"], proxy.event()["action"]) == ("m.tiktok.com", "block")


def test_with_intercept_tls_blocked_sni_is_intercepted_for_the_block_page(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_intercept_tls=True)
    data = clienthello_data(real_clienthello("blocked.test"))
    proxy.hello.tls_clienthello(data)
    assert data.ignore_connection is False
    assert not proxy.server_allowed(data.context.client)


@pytest.mark.parametrize(("host", "intercepted"), [("www.google.com", True), ("www.example.org", False)])
def test_with_intercept_tls_only_search_engines_are_read(proxy: Proxy, host: str, intercepted: bool) -> None:
    proxy.ctx.options.update(schoolgate_intercept_tls=True)
    data = clienthello_data(real_clienthello(host))
    proxy.hello.tls_clienthello(data)
    assert data.ignore_connection is not intercepted
    assert proxy.server_allowed(data.context.client)


def test_no_sni_decides_on_the_destination_and_is_a_signal(proxy: Proxy) -> None:
    data = clienthello_data(real_clienthello(None), destination=("198.18.0.10", 443))
    proxy.hello.tls_clienthello(data)
    event = proxy.event()
    assert (event["host"], event["signal"]) == ("198.18.0.10", "no_sni")


def test_encrypted_client_hello_is_a_signal(proxy: Proxy) -> None:
    data = clienthello_data(built_clienthello("public.ech.example", [(0xFE0D, b"\x00" * 16)]))
    proxy.hello.tls_clienthello(data)
    assert (proxy.event()["host"], proxy.event()["signal"]) == ("public.ech.example", "ech")


def test_in_a_tunnel_the_same_name_is_not_decided_twice(proxy: Proxy) -> None:
    client = tls_client()
    flow = connect_flow("www.example.org")
    flow.client_conn = client
    run(proxy.connect.http_connect(flow))
    data = clienthello_data(real_clienthello("www.example.org"), client=client)
    proxy.hello.tls_clienthello(data)
    assert len(proxy.events) == 1 and data.ignore_connection is True
    assert proxy.server_allowed(client)


def test_in_a_tunnel_a_blocked_sni_behind_an_allowed_connect_is_closed(proxy: Proxy) -> None:
    client = tls_client()
    flow = connect_flow("www.example.org")
    flow.client_conn = client
    run(proxy.connect.http_connect(flow))
    data = clienthello_data(real_clienthello("blocked.test"), client=client)
    proxy.hello.tls_clienthello(data)
    event = proxy.event()
    assert (event["host"], event["action"], event["signal"]) == ("blocked.test", "block", "sni_mismatch")
    assert not proxy.server_allowed(client)


def test_an_error_in_the_clienthello_hook_closes(proxy: Proxy) -> None:
    data = clienthello_data(real_clienthello("www.example.org"))
    data.context.client.peername = None  # makes the hook itself fail
    proxy.hello.tls_clienthello(data)
    assert data.ignore_connection is True
    assert not proxy.server_allowed(data.context.client)
