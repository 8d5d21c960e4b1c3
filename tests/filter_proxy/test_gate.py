"""The gate, admission and settings: the parts that keep the proxy closed by default."""

from __future__ import annotations

import pytest
from mitmproxy import exceptions

from tests.filter_proxy.conftest import Proxy, tls_client


def test_a_connection_no_decision_saw_never_reaches_a_server(proxy: Proxy) -> None:
    assert not proxy.server_allowed(tls_client())  # e.g. raw TCP in transparent mode


def test_notes_are_dropped_when_the_client_goes(proxy: Proxy) -> None:
    from filter_proxy.notes import Notes

    notes = proxy.gate.notes
    assert isinstance(notes, Notes)
    client = tls_client()
    notes.get(client.id).approved = True
    proxy.gate.client_disconnected(client)
    assert len(notes) == 0


@pytest.mark.parametrize(("ip", "admitted"), [("10.1.2.3", True), ("127.0.0.1", True), ("198.51.100.7", False)])
def test_only_client_networks_are_served(proxy: Proxy, ip: str, admitted: bool) -> None:
    client = tls_client(ip)
    proxy.admission.client_connected(client)
    assert (client.error is None) is admitted


@pytest.mark.parametrize("options", [
    {"connection_strategy": "eager"},
    {"schoolgate_public_url": "ftp://nowhere"},
])
def test_unsafe_or_bad_options_stop_start_up(proxy: Proxy, options: dict[str, object]) -> None:
    with pytest.raises(exceptions.OptionsError):
        proxy.ctx.options.update(**options)


def test_ssl_insecure_is_refused(proxy: Proxy) -> None:
    proxy.ctx.options.add_option("ssl_insecure", bool, False, "as TlsConfig declares it")
    with pytest.raises(exceptions.OptionsError):
        proxy.ctx.options.update(ssl_insecure=True)
