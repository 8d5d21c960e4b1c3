"""The CONNECT hook (regular mode): blocked hosts get a 403 and no tunnel."""

from __future__ import annotations

from rules.policy.snapshot import CompiledBan
from tests.factories import tdevice, tsnapshot
from tests.filter_proxy.conftest import Proxy, http_flow, run


def connect_flow(host: str, port: int = 443, client_ip: str = "10.0.0.7"):  # type: ignore[no-untyped-def]
    flow = http_flow(f"http://{host}:{port}/", client_ip=client_ip, method="CONNECT")
    flow.request.authority = f"{host}:{port}"
    return flow


def test_blocked_connect_is_refused_with_403(proxy: Proxy) -> None:
    flow = connect_flow("www.tiktok.com")
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert b"category: blocked" in flow.response.content
    assert not proxy.server_allowed(flow.client_conn)
    event = proxy.event()
    assert (event["qtype"], event["host"], event["action"], event["url"]) == (
        "CONNECT", "www.tiktok.com", "block", None)


def test_allowed_connect_opens_the_tunnel(proxy: Proxy) -> None:
    flow = connect_flow("www.example.org")
    run(proxy.connect.http_connect(flow))
    assert flow.response is None
    assert proxy.server_allowed(flow.client_conn)
    assert proxy.event()["action"] == "allow"


def test_connect_to_a_bare_ip_is_a_signal(proxy: Proxy) -> None:
    flow = connect_flow("198.18.0.44")
    run(proxy.connect.http_connect(flow))
    assert proxy.event()["signal"] == "bare_ip"
    assert proxy.event()["host"] == "198.18.0.44"


def test_with_intercept_tls_the_tunnel_opens_but_never_reaches_the_server(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_intercept_tls=True)
    flow = connect_flow("blocked.test")
    run(proxy.connect.http_connect(flow))
    assert flow.response is None  # mitmproxy answers 200; the block page is served inside TLS
    assert not proxy.server_allowed(flow.client_conn)


def test_an_error_in_the_connect_hook_refuses(proxy: Proxy) -> None:
    flow = connect_flow("www.example.org")
    flow.client_conn.peername = None  # makes the hook itself fail
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert not proxy.server_allowed(flow.client_conn)


def test_banned_device_connect_is_refused_with_the_ban_words(proxy: Proxy) -> None:
    proxy.store.snapshot = tsnapshot(devices=[("10.0.0.4", tdevice(id=4, name="Class 5 laptop"))],
                                     bans=[CompiledBan(id=9, device_id=4, person=None)])
    flow = connect_flow("www.example.org", client_ip="10.0.0.4")
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert flow.response.content == b"This device cannot use the internet now. Please speak to your teacher.\n"
    assert not proxy.server_allowed(flow.client_conn)
    assert proxy.event()["action"] == "ban"
