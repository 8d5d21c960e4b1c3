"""How the admin web is reached: HTTPS by default, plain HTTP only on loopback with allow_http, a certificate
named by both keys or by neither, and a gateway that says which networks are staff's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy.config import ConfigError, load_config

GATEWAY = '[gateway]\nlan_interfaces = ["eth1"]\nstaff_networks = ["10.0.50.0/24"]\n'


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_the_defaults_are_https_on_loopback() -> None:
    web = load_config(None).web
    assert web.public_url == "https://127.0.0.1:8000" and not web.allow_http
    assert (web.tls_cert, web.tls_key) == ("", "")


@pytest.mark.parametrize("text", [
    '[web]\npublic_url = "http://127.0.0.1:8000"\nallow_http = true\n',  # a developer's own machine
    '[web]\nlisten = "[::1]:8000"\npublic_url = "http://[::1]:8000"\nallow_http = true\n',
    '[web]\nlisten = "127.0.0.2:8000"\npublic_url = "http://localhost:8000"\nallow_http = true\n',
    '[web]\ntls_cert = "/etc/schoolgate/web.pem"\ntls_key = "/etc/schoolgate/web-key.pem"\n',
    GATEWAY + '[web]\nlisten = "0.0.0.0:8000"\npublic_url = "https://10.0.50.1:8000"\n',
])
def test_accepted(tmp_path: Path, text: str) -> None:
    load(tmp_path, text)


@pytest.mark.parametrize(("text", "message"), [
    # plain HTTP on the school's network: refused, naming the key, on any address but loopback ...
    ('[web]\nlisten = "0.0.0.0:8000"\npublic_url = "http://10.0.50.1:8000"\nallow_http = true\n',
     "'web.allow_http' = true is for loopback development only: it needs 'web.listen' on a loopback address "
     "(not 0.0.0.0:8000)"),
    ('[web]\nlisten = "10.0.50.1:8000"\nallow_http = true\n', "'web.allow_http' = true is for loopback development"),
    # ... and on a gateway even on loopback (a gateway's web is reached from the LAN)
    (GATEWAY + '[web]\npublic_url = "http://127.0.0.1:8000"\nallow_http = true\n',
     "and no 'gateway.lan_interfaces'"),
    # an http:// address without allow_http: the staff would type it and send their password in clear
    ('[web]\npublic_url = "http://127.0.0.1:8000"\n',
     "'web.public_url' is 'http://127.0.0.1:8000': plain HTTP would send staff passwords in clear; use https://"),
    ('[web]\ntls_cert = "/etc/schoolgate/web.pem"\n',
     "'web.tls_cert' is set but 'web.tls_key' is not: set both (PEM files) or neither"),
    ('[web]\ntls_key = "/etc/schoolgate/web-key.pem"\n', "'web.tls_key' is set but 'web.tls_cert' is not"),
    ('[web]\nallow_http = "yes"\n', "'web.allow_http' must be true or false"),
    ('[gateway]\nlan_interfaces = ["eth1"]\n',
     "'gateway.staff_networks' must be set when 'gateway.lan_interfaces' is: it says who may reach the admin web, "
     'e.g. staff_networks = ["10.0.50.0/24"]'),
])
def test_refused_with_the_key_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        load(tmp_path, text)
    assert str(refused.value).startswith(str(tmp_path / "c.toml"))
