"""Transparent mode: the device chose the address, the decision is on a name, and the connection goes
where that name leads. Otherwise an allowed name (or none) would open a blocked site's address, or a
tunnel server of the pupil's own on 443 or 80."""

from __future__ import annotations

from mitmproxy.proxy.mode_specs import ProxyMode

from tests.factories import trule, tsnapshot
from tests.filter_proxy.conftest import PUBLIC, Proxy, clienthello_data, http_flow, real_clienthello, run
from tests.filter_proxy.test_destinations import server_connected as server_for

BLOCKED_SITE = "198.18.5.5"  # a blocked site's address (or a VPN server's), chosen by the pupil's device
LEARN = "198.18.6.6"  # where the allowed name really leads


def test_an_allowed_server_name_connects_where_the_name_leads_not_to_the_chosen_address(proxy: Proxy) -> None:
    proxy.names.table["learn.example.org"] = [LEARN]
    data = clienthello_data(real_clienthello("learn.example.org"), destination=(BLOCKED_SITE, 443))
    proxy.hello.tls_clienthello(data)
    server = server_for(proxy, data.context.client, (BLOCKED_SITE, 443))
    assert server.error is None
    assert server.address == (LEARN, 443) and server.sni == "learn.example.org"
    assert proxy.names.asked == ["learn.example.org"]
    assert (proxy.event()["host"], proxy.event()["action"]) == ("learn.example.org", "allow")


def test_tls_without_a_server_name_is_refused_unless_an_exception_opens_the_address(proxy: Proxy) -> None:
    data = clienthello_data(real_clienthello(None), destination=(BLOCKED_SITE, 443))
    proxy.hello.tls_clienthello(data)
    assert server_for(proxy, data.context.client, (BLOCKED_SITE, 443)).error is not None
    event = proxy.event()
    assert (event["host"], event["action"], event["reason"], event["signal"]) == (
        BLOCKED_SITE, "block", "nameless", "no_sni")
    # an approved exception for that address (an app the school needs that connects by address) opens it
    proxy.store.snapshot = tsnapshot(rules=[trule(1, "allow", BLOCKED_SITE)])
    data = clienthello_data(real_clienthello(None), destination=(BLOCKED_SITE, 443))
    proxy.hello.tls_clienthello(data)
    server = server_for(proxy, data.context.client, (BLOCKED_SITE, 443))
    assert server.error is None and server.address == (BLOCKED_SITE, 443)
    assert (proxy.event()["action"], proxy.event()["reason"]) == ("allow", "exception")


def test_plain_http_goes_where_the_host_name_leads(proxy: Proxy) -> None:
    proxy.names.table["learn.example.org"] = [LEARN]
    flow = http_flow(f"http://{BLOCKED_SITE}/")  # the device chose the address
    flow.client_conn.proxy_mode = ProxyMode.parse("transparent")
    flow.request.headers["host"] = "learn.example.org"
    run(proxy.request.request(flow))
    assert flow.response is None
    server = server_for(proxy, flow.client_conn, (BLOCKED_SITE, 80))
    assert server.error is None and server.address == (LEARN, 80)


def test_plain_http_to_an_address_names_no_site_and_gets_the_block_page(proxy: Proxy) -> None:
    flow = http_flow(f"http://{BLOCKED_SITE}/")
    flow.client_conn.proxy_mode = ProxyMode.parse("transparent")
    flow.request.headers["host"] = BLOCKED_SITE
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert (proxy.event()["reason"], proxy.event()["signal"]) == ("nameless", "bare_ip")
    assert server_for(proxy, flow.client_conn, (BLOCKED_SITE, 80)).error is not None


def test_a_name_that_leads_inside_is_refused_whatever_address_the_device_chose(proxy: Proxy) -> None:
    proxy.names.table["intranet.example.org"] = ["10.0.0.5"]
    data = clienthello_data(real_clienthello("intranet.example.org"), destination=(PUBLIC, 443))
    proxy.hello.tls_clienthello(data)
    server = server_for(proxy, data.context.client, (PUBLIC, 443))
    assert server.error is not None and "10.0.0.5" in server.error
