"""The request hook: block page, ban page, escaping, search terms, signals, fail closed, policy swaps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.policy.snapshot import CompiledBan
from tests.factories import tdevice, tsnapshot
from tests.filter_proxy.conftest import Proxy, http_flow, run


def test_allowed_request_passes_and_is_recorded(proxy: Proxy) -> None:
    flow = http_flow("http://www.example.org/page?a=1")
    run(proxy.request.request(flow))
    assert flow.response is None
    event = proxy.event()
    assert (event["source"], event["host"], event["url"], event["action"], event["qtype"]) == (
        "proxy", "www.example.org", "http://www.example.org/page?a=1", "allow", "GET")
    assert flow.metadata["schoolgate"]["action"] == "allow"
    assert proxy.server_allowed(flow.client_conn)


def test_blocked_request_gets_the_block_page(proxy: Proxy) -> None:
    flow = http_flow("http://www.tiktok.com/@someone")
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    page = flow.response.get_text()
    assert "<title>Blocked by the school's web filter</title>" in page
    assert 'id="category">blocked<' in page
    assert 'id="rule">blocked: tiktok.com<' in page
    assert "10.0.0.7 (unregistered, group pupils)" in page
    assert "GMT" in page or "BST" in page  # Europe/London
    assert ('href="https://127.0.0.1:8000/requests/new?url=http%3A%2F%2Fwww.tiktok.com%2F%40someone"' in page)
    event = proxy.event()
    assert (event["action"], event["category"], event["host"]) == ("block", "blocked", "www.tiktok.com")
    assert not proxy.server_allowed(flow.client_conn)


def test_block_page_escapes_everything_from_the_request(proxy: Proxy) -> None:
    device = tdevice(name='<img src=x onerror="alert(1)">')
    proxy.store.snapshot = tsnapshot(blocked=["blocked.test"], devices=[("10.0.0.9", device)])
    flow = http_flow("http://blocked.test/<script>alert('x')</script>?q=\"><b>", client_ip="10.0.0.9")
    run(proxy.request.request(flow))
    page = flow.response.get_text()
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "%3Cscript%3E" in page  # the Request access link carries the URL percent-encoded


def test_banned_device_gets_the_ban_page(proxy: Proxy) -> None:
    device = tdevice(id=4, name="Class 5 laptop")
    proxy.store.snapshot = tsnapshot(devices=[("10.0.0.4", device)], bans=[CompiledBan(id=9, device_id=4, person=None)])
    flow = http_flow("http://www.example.org/", client_ip="10.0.0.4")
    run(proxy.request.request(flow))
    page = flow.response.get_text()
    assert flow.response.status_code == 403
    assert "This device cannot use the internet now." in page
    assert "Please speak to your teacher." in page
    assert "Request access" not in page
    assert proxy.event()["action"] == "ban" and proxy.event()["device"] == "Class 5 laptop"


@pytest.mark.parametrize(("url", "term"), [
    ("http://www.google.com/search?q=how+to+draw+a+cat&hl=en", "how to draw a cat"),
    ("http://www.google.co.uk/search?q=%3Cb%3Ebold", "<b>bold"),
    ("http://www.bing.com/search?q=volcano", "volcano"),
    ("http://duckduckgo.com/?q=river+thames", "river thames"),
    ("http://html.duckduckgo.com/html/?q=tides", "tides"),
    ("http://www.youtube.com/results?search_query=minecraft", "minecraft"),
    ("http://m.youtube.com/results?search_query=lego+star+wars", "lego star wars"),
    ("http://www.youtube.com/results?q=older+form", "older form"),
    ("http://music.youtube.com/search?q=choir", "choir"),
    ("http://www.tiktok.com/search?q=science+tricks", "science tricks"),
    ("http://www.tiktok.com/search/video?q=dance%20tutorial", "dance tutorial"),
    ("http://m.tiktok.com/search/user?q=bbcnews", "bbcnews"),
    ("http://www.tiktok.com/@someone?q=not+a+search", None),
    ("http://www.youtube.com/watch?v=abc&search_query=nope", None),
    ("http://www.google.com/maps?q=london", None),
    ("http://www.example.org/search?q=not+an+engine", None),
])
def test_search_terms_are_recorded(proxy: Proxy, url: str, term: str | None) -> None:
    run(proxy.request.request(http_flow(url)))
    assert proxy.event()["search_term"] == term


@pytest.mark.parametrize(("url", "headers", "sni", "signal"), [
    ("https://dns.example/dns-query?dns=AAAB", {}, "dns.example", "doh"),
    ("https://resolver.example/q", {"content-type": "application/dns-message"}, "resolver.example", "doh"),
    ("https://allowed.example/", {}, "fronted.example", "sni_mismatch"),
    ("https://allowed.example/", {}, "allowed.example", None),
    ("http://198.18.0.20/", {}, None, "bare_ip"),
])
def test_request_signals(proxy: Proxy, url: str, headers: dict[str, str], sni: str | None,
                         signal: str | None) -> None:
    flow = http_flow(url, method="POST")
    flow.request.headers.update(headers)
    flow.client_conn.sni = sni
    run(proxy.request.request(flow))
    assert proxy.event()["signal"] == signal


def test_an_error_in_the_decision_path_blocks(proxy: Proxy) -> None:
    class Broken:
        def identify(self, ip: str) -> None:
            raise RuntimeError("device registry exploded")

    proxy.store.snapshot = Broken()  # type: ignore[assignment]
    flow = http_flow("http://www.example.org/")
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert (proxy.event()["action"], proxy.event()["reason"]) == ("block", "error")
    assert not proxy.server_allowed(flow.client_conn)


def test_an_error_in_the_hook_itself_blocks(proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: object, **_kw: object) -> None:
        raise RuntimeError("block page template broken")

    monkeypatch.setattr("filter_proxy.request.blockpage.response", explode)
    flow = http_flow("http://blocked.test/")
    run(proxy.request.request(flow))
    assert flow.response is not None and flow.response.status_code == 403
    assert not proxy.server_allowed(flow.client_conn)


def test_a_new_snapshot_applies_to_the_next_request(proxy: Proxy) -> None:
    run(proxy.request.request(first := http_flow("http://news.example/")))
    assert first.response is None
    proxy.store.snapshot = tsnapshot(blocked=["news.example"], version=2)
    run(proxy.request.request(second := http_flow("http://news.example/")))
    assert second.response is not None and second.response.status_code == 403


def test_block_page_time_is_london(proxy: Proxy) -> None:
    from filter_proxy.blockpage import london_time

    assert london_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "01 July 2026, 13:00 BST"
    assert london_time(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == "01 December 2026, 12:00 GMT"
