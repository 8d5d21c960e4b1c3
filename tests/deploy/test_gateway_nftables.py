"""`schoolgate gateway nftables`: the ruleset from the configuration, checked by nft itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.config import load_config
from deploy.nftables import COUNTERS, DOT_LOG_PREFIX, RulesetError, render_ruleset
from tests.conftest import Cli

GATEWAY = """
[gateway]
lan_interfaces = ["lan0", "wlan0"]
staff_networks = ["198.18.1.128/25", "2001:db8:5::/64"]
dns_bypass_listen = "0.0.0.0:5354"
dot_catch_listen = "0.0.0.0:5853"
[dns]
listen = ["0.0.0.0:53"]
[proxy]
listen = "0.0.0.0:8080"
mode = "transparent"
[web]
listen = "0.0.0.0:8000"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text, encoding="utf-8")
    return path


def nft_check(ruleset: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("nft") is None:
        pytest.skip("nft (nftables) is not installed")
    result = subprocess.run(["nft", "-c", "-f", "-"], input=ruleset, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("nft -c needs root (CAP_NET_ADMIN) here")
    return result


@pytest.mark.parametrize("workers", [1, 3])
def test_ruleset_loads_with_nft_check(tmp_path: Path, workers: int) -> None:
    ruleset = render_ruleset(load_config(write(tmp_path, GATEWAY)), workers)
    result = nft_check(ruleset)
    assert result.returncode == 0, result.stderr


def test_ruleset_holds_each_redirect_and_signal(tmp_path: Path) -> None:
    ruleset = render_ruleset(load_config(write(tmp_path, GATEWAY)))
    assert "table inet schoolgate {" in ruleset
    assert 'iifname != { "lan0", "wlan0" } return' in ruleset
    assert 'fib daddr type local meta l4proto { tcp, udp } th dport 53 counter name "dns_gateway" redirect to :53' \
        in ruleset
    assert 'meta l4proto { tcp, udp } th dport 53 counter name "dns_bypass" redirect to :5354' in ruleset
    assert 'tcp dport { 80, 443 } counter name "web_proxied" redirect to :8080' in ruleset
    # where DNS sends a blocked name (here the defaults), before the gateway's own addresses are let alone
    block_page = ['ip daddr 127.0.0.1 tcp dport { 80, 443 } counter name "web_proxied" redirect to :8080',
                  'ip6 daddr ::1 tcp dport { 80, 443 } counter name "web_proxied" redirect to :8080']
    assert all(rule in ruleset for rule in block_page)
    assert ruleset.index(block_page[1]) < ruleset.index("fib daddr type local return")
    assert 'udp dport { 80, 443 } counter name "quic_dropped" drop' in ruleset
    # DNS over TLS/QUIC: to the DoT catcher (which records the signal "dot"), counted and logged; and in case a
    # flow slips past the redirect, refused in the forward chain: nothing on 853 leaves
    dot = [f'tcp dport 853 counter name "dot_rejected" log prefix "{DOT_LOG_PREFIX} " redirect to :5853',
           f'udp dport 853 counter name "doq_rejected" log prefix "{DOT_LOG_PREFIX} " redirect to :5853']
    assert all(rule in ruleset for rule in dot)
    prerouting = ruleset[ruleset.index("chain prerouting"):ruleset.index("chain forward")]
    forward = ruleset[ruleset.index("chain forward"):ruleset.index("chain input")]
    # before anything for the gateway's own addresses is let alone: 853 to the gateway itself is caught too
    assert all(rule in prerouting for rule in dot)
    assert prerouting.index(dot[1]) < prerouting.index("fib daddr type local return")
    assert "tcp dport 853 reject with tcp reset" in forward and "udp dport 853 reject" in forward
    assert "elements = { 198.18.1.128/25 }" in ruleset and "elements = { 2001:db8:5::/64 }" in ruleset
    assert "tcp dport 8000 ip saddr @staff_v4 accept" in ruleset
    for name in COUNTERS:
        assert f"counter {name} {{" in ruleset


def test_workers_are_spread_with_numgen(tmp_path: Path) -> None:
    ruleset = render_ruleset(load_config(write(tmp_path, GATEWAY)), workers=3)
    assert "redirect to : numgen inc mod 3 map { 0 : 8080, 1 : 8081, 2 : 8082 }" in ruleset


def test_no_staff_networks_means_every_client_network(tmp_path: Path) -> None:
    text = GATEWAY.replace('staff_networks = ["198.18.1.128/25", "2001:db8:5::/64"]\n', "")
    ruleset = render_ruleset(load_config(write(tmp_path, text)))
    assert "elements = { 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 }" in ruleset
    assert "elements = { ::1/128, fc00::/7 }" in ruleset


@pytest.mark.parametrize(("change", "message"), [
    (('lan_interfaces = ["lan0", "wlan0"]', "lan_interfaces = []"), "'gateway.lan_interfaces' is empty"),
    (('lan_interfaces = ["lan0", "wlan0"]', 'lan_interfaces = ["lan0; flush ruleset"]'), "not an interface name"),
    (('listen = "0.0.0.0:8080"', 'listen = "127.0.0.1:8080"'), "'proxy.listen' is 127.0.0.1:8080, on loopback"),
    (('dns_bypass_listen = "0.0.0.0:5354"', 'dns_bypass_listen = "0.0.0.0:53"'), "another port"),
    (('dot_catch_listen = "0.0.0.0:5853"', 'dot_catch_listen = "127.0.0.1:5853"'),
     "'gateway.dot_catch_listen' is 127.0.0.1:5853, on loopback"),
    (('dot_catch_listen = "0.0.0.0:5853"', 'dot_catch_listen = "0.0.0.0:5354"'),
     r"'gateway.dot_catch_listen' \(0.0.0.0:5354\) must use another port than gateway.dns_bypass_listen"),
    (('dot_catch_listen = "0.0.0.0:5853"', 'dot_catch_listen = "0.0.0.0:53"'), "another port than dns.listen"),
    (('dot_catch_listen = "0.0.0.0:5853"', 'dot_catch_listen = "0.0.0.0:8000"'), "another port than web.listen"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = GATEWAY.replace(*change)
    assert text != GATEWAY
    with pytest.raises(RulesetError, match=message):
        render_ruleset(load_config(write(tmp_path, text)))


def test_the_dot_catcher_must_not_share_a_proxy_worker_port(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GATEWAY.replace('dot_catch_listen = "0.0.0.0:5853"',
                                                         'dot_catch_listen = "0.0.0.0:8082"')))
    assert "redirect to :8082" in render_ruleset(config, workers=2)
    with pytest.raises(RulesetError, match=r"another port than proxy.listen \(0.0.0.0:8080, worker 2\)"):
        render_ruleset(config, workers=3)


def test_command_prints_the_ruleset_and_refuses_bad_config(cli: Cli, tmp_path: Path) -> None:
    cli.config = write(tmp_path, GATEWAY)
    out = cli("gateway", "nftables", "--workers", "2").stdout
    assert out.startswith("# schoolgate gateway ruleset") and "numgen inc mod 2" in out
    assert nft_check(out).returncode == 0
    cli.config = write(tmp_path, "")
    result = cli("gateway", "nftables", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("schoolgate: error: cannot write the nftables ruleset from")
    assert "'gateway.lan_interfaces' is empty" in result.stderr and "Traceback" not in result.stderr
