"""Where the proxy connects: the request's target (not a Host header), CONNECT ports, no internal destinations."""

from __future__ import annotations

import ipaddress

import pytest
from mitmproxy import connection
from mitmproxy.proxy import server_hooks
from mitmproxy.proxy.mode_specs import ProxyMode

from filter_proxy.destinations import category
from rules.policy.snapshot import CompiledBan
from tests.factories import tdevice, tsnapshot
from tests.filter_proxy.conftest import GATEWAY_ADDRESS, PUBLIC, Proxy, http_flow, run, tls_client
from tests.filter_proxy.test_connect import connect_flow

# -- the Host header -------------------------------------------------------------------------------------


def test_a_host_header_naming_another_host_is_refused_with_400(proxy: Proxy) -> None:
    flow = http_flow("http://www.tiktok.com/")
    flow.request.headers["host"] = "allowed.example"
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 400
    event = proxy.event()
    assert (event["host"], event["action"], event["reason"], event["signal"], event["url"]) == (
        "www.tiktok.com", "block", "host_mismatch", "host_mismatch", "http://www.tiktok.com/")
    assert "allowed.example" in str(event["rule"])
    assert not proxy.server_allowed(flow.client_conn)


def test_the_decision_is_on_the_url_host_even_when_it_is_allowed_and_the_host_header_blocked(proxy: Proxy) -> None:
    flow = http_flow("http://www.example.org/")
    flow.request.headers["host"] = "blocked.test"
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 400
    assert proxy.event()["host"] == "www.example.org" and proxy.event()["signal"] == "host_mismatch"


@pytest.mark.parametrize(("url", "host_header"), [
    ("http://www.example.org/", "www.example.org"),
    ("http://www.example.org/", "WWW.Example.ORG."),
    ("http://www.example.org/", "www.example.org:80"),
    ("http://www.example.org:8080/", "www.example.org:8080"),
    ("https://www.example.org/", "www.example.org"),
    ("http://198.18.0.20/", "198.18.0.20:80"),
])
def test_a_host_header_that_agrees_is_fine(proxy: Proxy, url: str, host_header: str) -> None:
    flow = http_flow(url)
    flow.request.headers["host"] = host_header
    run(proxy.request.request(flow))
    assert flow.response is None
    assert proxy.event()["action"] == "allow" and proxy.event()["signal"] != "host_mismatch"


@pytest.mark.parametrize("host_header", ["www.example.org:8080", "other.example", "", "bad host!"])
def test_another_port_or_a_broken_host_header_disagrees(proxy: Proxy, host_header: str) -> None:
    flow = http_flow("http://www.example.org/")
    flow.request.headers["host"] = host_header
    run(proxy.request.request(flow))
    if host_header:
        assert flow.response is not None and flow.response.status_code == 400
    else:  # an empty Host header names nothing: no disagreement, the URL decides
        assert flow.response is None


def test_transparent_mode_decides_on_the_host_header_as_before(proxy: Proxy) -> None:
    flow = http_flow(f"http://{PUBLIC}/")  # transparent: the target is the original destination's address
    flow.client_conn.proxy_mode = ProxyMode.parse("transparent")
    flow.request.headers["host"] = "www.tiktok.com"
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert proxy.event()["host"] == "www.tiktok.com"


# -- CONNECT ports ---------------------------------------------------------------------------------------


def test_connect_to_port_22_is_refused_and_443_is_not(proxy: Proxy) -> None:
    flow = connect_flow("www.example.org", 22)
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert not proxy.server_allowed(flow.client_conn)
    event = proxy.event()
    assert (event["qtype"], event["host"], event["action"], event["reason"]) == (
        "CONNECT", "www.example.org", "block", "port")
    fine = connect_flow("www.example.org", 443)
    run(proxy.connect.http_connect(fine))
    assert fine.response is None and proxy.server_allowed(fine.client_conn)


def test_a_refused_port_gets_no_tunnel_even_with_intercept_tls(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_intercept_tls=True)
    flow = connect_flow("www.example.org", 25)
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert not proxy.server_allowed(flow.client_conn)


def test_connect_ports_come_from_the_option(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_connect_ports=["443", "8443"])
    flow = connect_flow("www.example.org", 8443)
    run(proxy.connect.http_connect(flow))
    assert flow.response is None


@pytest.mark.parametrize("ports", [["0"], ["65536"], ["https"]])
def test_bad_connect_ports_stop_start_up(proxy: Proxy, ports: list[str]) -> None:
    from mitmproxy import exceptions

    with pytest.raises(exceptions.OptionsError):
        proxy.ctx.options.update(schoolgate_connect_ports=ports)


# -- internal destinations -------------------------------------------------------------------------------

INTERNAL_URLS = [
    ("http://127.0.0.1:8000/", "127.0.0.1"),
    ("http://2130706433:8000/", "127.0.0.1"),
    ("http://0x7f000001:8000/", "127.0.0.1"),
    ("http://0x7f.1:8000/", "127.0.0.1"),
    ("http://127.1/", "127.0.0.1"),
    ("http://0177.0.0.1/", "127.0.0.1"),
    ("http://10.0.0.5/", "10.0.0.5"),
    ("http://192.168.1.1/", "192.168.1.1"),
    ("http://172.16.0.1/", "172.16.0.1"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://100.64.0.1/", "100.64.0.1"),
    ("http://0.0.0.0/", "0.0.0.0"),
    ("http://224.0.0.1/", "224.0.0.1"),
    ("http://240.0.0.1/", "240.0.0.1"),
    ("http://[::1]/", "::1"),
    ("http://[fe80::1]/", "fe80::1"),
    ("http://[fd00::5]/", "fd00::5"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
    (f"http://{GATEWAY_ADDRESS}/", GATEWAY_ADDRESS),  # this gateway's own interface address
]


@pytest.mark.parametrize(("url", "host"), INTERNAL_URLS)
def test_an_internal_address_gets_the_block_page(proxy: Proxy, url: str, host: str) -> None:
    flow = http_flow(url)
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert "Blocked by the school's web filter" in flow.response.get_text()
    assert not proxy.server_allowed(flow.client_conn)
    event = proxy.event()
    assert (event["host"], event["action"], event["reason"], event["signal"]) == (
        host, "block", "internal_address", "bare_ip")
    assert len(proxy.events) == 1


@pytest.mark.parametrize("name", ["localhost", "rebinder.test"])
def test_a_name_that_resolves_internal_is_refused(proxy: Proxy, name: str) -> None:
    proxy.names.table["rebinder.test"] = [PUBLIC, "127.0.0.1"]  # one bad address among good ones is enough
    flow = http_flow(f"http://{name}/")
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    event = proxy.event()
    assert (event["host"], event["reason"]) == (name, "internal_address")
    assert "127.0.0.1" in str(event["rule"])
    connect = connect_flow(name)
    run(proxy.connect.http_connect(connect))
    assert connect.response is not None and connect.response.status_code == 403
    assert not proxy.server_allowed(connect.client_conn)
    assert (proxy.event()["qtype"], proxy.event()["reason"]) == ("CONNECT", "internal_address")


@pytest.mark.parametrize("target", ["127.0.0.1", "10.0.0.5", "2130706433", "[::1]"])
def test_connect_to_an_internal_address_is_refused_even_with_intercept_tls(proxy: Proxy, target: str) -> None:
    proxy.ctx.options.update(schoolgate_intercept_tls=True)
    flow = connect_flow(target)
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert not proxy.server_allowed(flow.client_conn)


def test_internal_destinations_open_the_listed_network_only(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_internal_destinations=["10.0.0.0/24"])
    proxy.names.table["intranet.school.test"] = ["10.0.0.5"]
    for url in ("http://10.0.0.5/", "http://intranet.school.test/"):
        flow = http_flow(url)
        run(proxy.request.request(flow))
        assert flow.response is None, url
    connect = connect_flow("10.0.0.5")
    run(proxy.connect.http_connect(connect))
    assert connect.response is None
    outside = http_flow("http://10.0.1.5/")
    run(proxy.request.request(outside))
    assert outside.response is not None and outside.response.status_code == 403


def test_the_admin_web_and_the_proxy_are_never_reached_even_when_listed(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_internal_destinations=["10.0.0.0/24", "127.0.0.0/8"],
                             schoolgate_own_services=["[10.0.0.1]:8000", "[0.0.0.0]:8080"])
    for url in ("http://10.0.0.1:8000/", "http://127.0.0.1:8080/", f"http://{GATEWAY_ADDRESS}:8080/"):
        flow = http_flow(url)
        run(proxy.request.request(flow))
        assert flow.response is not None and flow.response.status_code == 403, url
        assert "schoolgate's own service" in str(proxy.event()["rule"])
    flow = http_flow("http://10.0.0.1:8001/")
    run(proxy.request.request(flow))
    assert flow.response is None


def test_the_configured_block_page_address_is_never_connected_to(proxy: Proxy) -> None:
    proxy.ctx.options.update(schoolgate_own_addresses=["198.18.0.99"])  # e.g. [network] block_page_ipv4
    flow = http_flow("http://198.18.0.99/")
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert "address of this gateway" in str(proxy.event()["rule"])


def test_a_public_address_and_a_name_that_looks_numeric_are_fine(proxy: Proxy) -> None:
    for url in ("http://198.18.0.20/", "http://1.2.3.4.example.com/", "http://0x7f000001.example/"):
        flow = http_flow(url)
        run(proxy.request.request(flow))
        assert flow.response is None, url
    assert [e[7] for e in proxy.events] == ["198.18.0.20", "1.2.3.4.example.com", "0x7f000001.example"]


def test_numeric_forms_are_decided_as_the_address(proxy: Proxy) -> None:
    proxy.store.snapshot = tsnapshot(blocked=["198.18.0.20"])
    flow = http_flow("http://3323068436/")  # 198.18.0.20
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    event = proxy.event()
    assert (event["host"], event["reason"], event["signal"]) == ("198.18.0.20", "category", "bare_ip")


@pytest.mark.parametrize(("text", "internal"), [
    ("2002:7f00:1::", True),  # 6to4 around 127.0.0.1
    ("64:ff9b::a00:5", True),  # NAT64 around 10.0.0.5
    ("::ffff:192.168.0.1", True),
    ("2001:4860:4860::8888", False),
    ("8.8.8.8", False),
])
def test_addresses_inside_ipv6_are_checked_as_what_they_carry(text: str, internal: bool) -> None:
    assert (category(ipaddress.ip_address(text)) is not None) is internal


# -- server_connect: checked again, then pinned ----------------------------------------------------------


def server_connected(proxy: Proxy, client: connection.Client, address: tuple[str, int]) -> connection.Server:
    """What mitmproxy would connect to after every `server_connect` hook: the gate, then the destination."""
    server = connection.Server(address=address)
    data = server_hooks.ServerConnectionHookData(server, client)
    proxy.gate.server_connect(data)
    run(proxy.destinations.server_connect(data))
    return server


def test_the_connection_goes_to_the_address_that_was_checked(proxy: Proxy) -> None:
    flow = connect_flow("www.example.org")
    run(proxy.connect.http_connect(flow))
    server = server_connected(proxy, flow.client_conn, ("www.example.org", 443))
    assert server.error is None
    assert server.address == (PUBLIC, 443)
    assert server.sni == "www.example.org"  # TLS still names (and verifies) the host, not the address


def test_a_name_that_rebinds_after_the_check_is_refused_at_connect(proxy: Proxy) -> None:
    flow = connect_flow("rebind.test")
    run(proxy.connect.http_connect(flow))
    assert flow.response is None  # public when the CONNECT was checked
    proxy.names.table["rebind.test"] = ["127.0.0.1"]  # ... and loopback a moment later
    server = server_connected(proxy, flow.client_conn, ("rebind.test", 443))
    assert server.error is not None and "127.0.0.1" in server.error
    assert (proxy.event()["host"], proxy.event()["reason"]) == ("rebind.test", "internal_address")


def test_transparent_destinations_are_checked_too(proxy: Proxy) -> None:
    client = tls_client()
    proxy.notes_approve(client)
    server = server_connected(proxy, client, ("10.0.0.9", 443))
    assert server.error is not None
    public = server_connected(proxy, client, (PUBLIC, 443))
    assert public.error is None and public.address == (PUBLIC, 443)


def test_a_name_that_does_not_resolve_fails_at_connect(proxy: Proxy) -> None:
    proxy.names.table["nowhere.test"] = []
    flow = http_flow("http://nowhere.test/")
    run(proxy.request.request(flow))
    assert flow.response is None  # mitmproxy answers 502 when its connect fails
    server = server_connected(proxy, flow.client_conn, ("nowhere.test", 80))
    assert server.error is not None and "cannot resolve" in server.error


def test_a_refused_gate_is_not_resolved(proxy: Proxy) -> None:
    server = server_connected(proxy, tls_client(), ("www.example.org", 443))
    assert server.error is not None and proxy.names.asked == []


# -- IPv4-mapped client addresses ------------------------------------------------------------------------


def test_an_ipv4_mapped_client_is_its_ipv4_address(proxy: Proxy) -> None:
    proxy.store.snapshot = tsnapshot(devices=[("10.0.0.4", tdevice(id=4, name="Class 5 laptop"))],
                                     bans=[CompiledBan(id=9, device_id=4, person=None)])
    flow = http_flow("http://www.example.org/", client_ip="::ffff:10.0.0.4")
    run(proxy.request.request(flow))
    assert flow.response is not None and "This device cannot use the internet now." in flow.response.get_text()
    event = proxy.event()
    assert (event["client_ip"], event["device"], event["action"]) == ("10.0.0.4", "Class 5 laptop", "ban")
    client = tls_client("::ffff:10.1.2.3")
    proxy.admission.client_connected(client)
    assert client.error is None
    outsider = tls_client("::ffff:198.51.100.7")
    proxy.admission.client_connected(outsider)
    assert outsider.error is not None


def test_listing_a_network_that_holds_the_gateway_says_so_at_start(proxy: Proxy,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="schoolgate.proxy"):
        proxy.ctx.options.update(schoolgate_internal_destinations=["10.0.0.5/32"])
        assert "covers" not in caplog.text
        proxy.ctx.options.update(schoolgate_internal_destinations=["198.51.100.0/24"])
    assert f"covers {GATEWAY_ADDRESS}, an address of this gateway" in caplog.text


def test_an_error_in_the_destination_check_refuses(proxy: Proxy) -> None:
    async def broken(host: str, port: int) -> list[str]:
        raise RuntimeError("resolver exploded")

    proxy.destinations.resolve = broken
    flow = connect_flow("www.example.org")
    run(proxy.connect.http_connect(flow))
    assert flow.response is not None and flow.response.status_code == 403
    request = http_flow("http://www.example.org/")
    run(proxy.request.request(request))
    assert request.response is not None and request.response.status_code == 403
    client = tls_client()
    proxy.notes_approve(client)
    server = server_connected(proxy, client, ("www.example.org", 443))
    assert server.error is not None and "error" in server.error
