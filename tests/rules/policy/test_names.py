"""Host names in one normal form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.policy.names import InvalidHost, ip_literal, normalize_host, numeric_ipv4, parent_domains


@pytest.mark.parametrize(("raw", "normal"), [
    ("facebook.com", "facebook.com"),
    ("WWW.FACEBOOK.COM.", "www.facebook.com"),
    ("  m.Facebook.com  ", "m.facebook.com"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("_dmarc.example.org", "_dmarc.example.org"),
    ("localhost", "localhost"),
])
def test_normal_form(raw: str, normal: str) -> None:
    assert normalize_host(raw) == normal


@pytest.mark.parametrize("raw", [
    "", ".", "a..b", "<img src=x onerror=alert(1)>.example", "-bad.example", "bad-.example",
    "x" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", "has space.example", "xn--zz.example", "a/b.example",
    "exa\x00mple.com",
])
def test_invalid_names_raise_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidHost) as info:
        normalize_host(raw)
    assert str(info.value)
    assert "\n" not in str(info.value)


def test_parents_by_whole_labels() -> None:
    assert parent_domains("a.b.facebook.com") == ["a.b.facebook.com", "b.facebook.com", "facebook.com", "com"]


@given(st.text(max_size=300))
def test_never_anything_but_a_name_or_invalid_host(raw: str) -> None:
    try:
        name = normalize_host(raw)
    except InvalidHost:
        return
    assert name == name.lower() and not name.endswith(".") and name.isascii()
    assert normalize_host(name) == name


@pytest.mark.parametrize(("raw", "address"), [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0x7f.0.0.01", "127.0.0.1"),  # mixed hex, decimal and octal
    ("10.0x10.2", "10.16.0.2"),  # three parts: the last fills two bytes
    ("192.168.257", "192.168.1.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("4294967295", "255.255.255.255"),
])
def test_every_numeric_ipv4_form_is_the_address_it_means(raw: str, address: str) -> None:
    import socket

    assert numeric_ipv4(raw) == address
    assert ip_literal(raw) == address
    if not raw.endswith("."):
        assert socket.inet_ntoa(socket.inet_aton(raw)) == address  # what the C library connects to


@pytest.mark.parametrize("raw", [
    "1.2.3.4.example.com", "0x7f000001.example", "example.com", "1.2.3.4.5", "256.0.0.1", "1.2.3.256",
    "1.65536.1", "4294967296", "08.0.0.1", "0x1g", "1..2", "", ".", "１２７.0.0.1", "+1.2.3.4", "1.2.3.-4",
])
def test_names_and_out_of_range_numbers_are_not_addresses(raw: str) -> None:
    assert numeric_ipv4(raw) is None
    assert ip_literal(raw) is None


@pytest.mark.parametrize(("raw", "address"), [
    ("[::1]", "::1"), ("::1", "::1"), ("[2001:DB8::1]", "2001:db8::1"), ("fe80::1", "fe80::1"),
])
def test_ipv6_literals_in_canonical_form(raw: str, address: str) -> None:
    assert ip_literal(raw) == address


def test_plain_ip_unwraps_ipv4_mapped_client_addresses() -> None:
    from rules.policy.networks import plain_ip

    assert plain_ip("::ffff:10.0.0.7") == "10.0.0.7"
    assert plain_ip("::FFFF:127.0.0.1") == "127.0.0.1"
    assert plain_ip("10.0.0.7") == "10.0.0.7"
    assert plain_ip("2001:db8::7") == "2001:db8::7"
    assert plain_ip("not an address") == "not an address"
