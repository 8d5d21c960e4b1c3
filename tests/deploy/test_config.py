"""Configuration: defaults, and a bad key or value stops with the key and the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config import ConfigError, load_config


def test_no_file_means_defaults_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHOOLGATE_CONFIG", raising=False)
    monkeypatch.delenv("SCHOOLGATE_DATABASE_URL", raising=False)
    config = load_config()
    assert config.dns.listen == ("127.0.0.1:5353",)
    assert config.proxy.listen == "127.0.0.1:8080" and config.web.listen == "127.0.0.1:8000"
    assert config.gateway.dns_bypass_listen == "127.0.0.1:5354" and config.gateway.dot_catch_listen == "127.0.0.1:5853"
    assert config.database.url == "sqlite:///var/schoolgate.db"
    assert config.retention.access_log_days == 90
    assert config.proxy.connect_ports == (443,) and config.proxy.internal_destinations == ()


def test_empty_file_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("")
    assert load_config(path).dns.blocked_answer == "block_page"


def test_environment_overrides_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "sqlite:///a.db"\n')
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_config(path).database.url == "postgresql+psycopg://u@h/db"


def test_a_full_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHOOLGATE_DATABASE_URL", raising=False)
    path = tmp_path / "c.toml"
    path.write_text("""
[database]
url = "postgresql+psycopg://schoolgate@db.example/schoolgate"
[network]
block_page_ipv4 = "198.18.0.1"
block_page_ipv6 = "2001:db8::1"
client_networks = ["198.18.0.0/15"]
[dns]
listen = ["198.18.0.1:53", "[2001:db8::1]:53"]
upstreams = ["198.19.0.2", "[2001:db8::53]:53"]
blocked_answer = "nxdomain"
rate_limit_qps = 0
max_cache_ttl = 600
[proxy]
listen = "198.18.0.1:8080"
mode = "transparent"
intercept_tls = true
connect_ports = [443, 8443]
internal_destinations = ["10.0.0.5/32", "fd00:1::/64"]
[gateway]
lan_interfaces = ["eth1"]
staff_networks = ["198.18.1.0/24"]
dns_bypass_listen = "198.18.0.1:5354"
dot_catch_listen = "198.18.0.1:5853"
[web]
listen = "198.18.0.1:8000"
public_url = "https://filter.school.example"
[retention]
access_log_days = 30
""")
    config = load_config(path)
    assert config.dns.upstreams == ("198.19.0.2", "[2001:db8::53]:53")
    assert config.dns.max_cache_ttl == 600
    assert config.proxy.mode == "transparent" and config.proxy.intercept_tls is True
    assert config.proxy.connect_ports == (443, 8443)
    assert config.proxy.internal_destinations == ("10.0.0.5/32", "fd00:1::/64")
    assert config.gateway.dot_catch_listen == "198.18.0.1:5853"
    assert config.retention.access_log_days == 30 and config.path == path


@pytest.mark.parametrize(("body", "message"), [
    ("[dns]\nlistne = []", "unknown key 'dns.listne'"),
    ("[dnss]\nlisten = []", "unknown section [dnss]"),
    ("[dns]\nlisten = '127.0.0.1:53'", "'dns.listen' must be a list of strings"),
    ("[dns]\nlisten = ['127.0.0.1']", "'dns.listen' holds '127.0.0.1'"),
    ("[dns]\nlisten = ['localhost:53']", "is not an IP address"),
    ("[gateway]\ndot_catch_listen = '0.0.0.0'", "'gateway.dot_catch_listen' holds '0.0.0.0': expected ADDRESS:PORT"),
    ("[gateway]\ndot_catch_listen = 'gateway:853'", "'gateway.dot_catch_listen' holds 'gateway:853'"),
    ("[dns]\nrate_limit_qps = -1", "'dns.rate_limit_qps' must not be negative"),
    ("[dns]\nrate_limit_qps = true", "'dns.rate_limit_qps' must be a whole number"),
    ("[dns]\nmax_cache_ttl = 0", "'dns.max_cache_ttl' must be at least 1 second"),
    ("[dns]\nmax_cache_ttl = -60", "'dns.max_cache_ttl' must not be negative"),
    ("[dns]\nmax_cache_ttl = '1h'", "'dns.max_cache_ttl' must be a whole number"),
    ("[dns]\nblocked_answer = 'refuse'", "'dns.blocked_answer' must be one of block_page, nxdomain, null"),
    ("[proxy]\nmode = 'socks'", "'proxy.mode' must be one of regular, transparent"),
    ("[proxy]\nintercept_tls = 'yes'", "'proxy.intercept_tls' must be true or false"),
    ("[proxy]\nconnect_ports = 443", "'proxy.connect_ports' must be a list of whole numbers"),
    ("[proxy]\nconnect_ports = ['443']", "'proxy.connect_ports' must be a list of whole numbers"),
    ("[proxy]\nconnect_ports = [true]", "'proxy.connect_ports' must be a list of whole numbers"),
    ("[proxy]\nconnect_ports = [0]", "'proxy.connect_ports' holds 0, which is not a port from 1 to 65535"),
    ("[proxy]\nconnect_ports = [443, 65536]", "'proxy.connect_ports' holds 65536"),
    ("[proxy]\nconnect_ports = []", "'proxy.connect_ports' must list at least one port"),
    ("[proxy]\ninternal_destinations = '10.0.0.0/8'", "'proxy.internal_destinations' must be a list of strings"),
    ("[proxy]\ninternal_destinations = ['intranet.school']", "'proxy.internal_destinations' holds 'intranet.school'"),
    ("[network]\nblock_page_ipv4 = '::1'", "'network.block_page_ipv4' must be an IPv4 address"),
    ("[network]\nclient_networks = ['10.0.0.0/33']", "'network.client_networks' holds '10.0.0.0/33'"),
    ("[web]\npublic_url = 'javascript:alert(1)'", "'web.public_url' must be an http:// or https:// URL"),
    ("[retention]\naccess_log_days = 0", "'retention.access_log_days' must be at least 1 day"),
    ("[database]\nurl = 'schoolgate.db'", "'database.url' must be a database URL"),
    ("dns = 1", "'dns' must be a [section] table"),
    ("[dns\n", "not valid TOML"),
])
def test_bad_configuration_names_the_key_and_the_file(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_ban_allowlist_adds_the_admin_web(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[bans]\nallowlist = ["Learning.School.Example."]\n[web]\npublic_url = "https://filter.school.example/"\n')
    assert load_config(path).ban_allowlist == ("learning.school.example", "filter.school.example")
    path.write_text('[bans]\nallowlist = ["not a name"]\n')
    with pytest.raises(ConfigError, match="'bans.allowlist' holds 'not a name'"):
        load_config(path)
