"""`schoolgate gateway nftables`: the ruleset from the configuration, checked by nft itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from deploy.config import ConfigError, load_config
from deploy.nftables import COUNTERS, DOT_LOG_PREFIX, RulesetError, render_ruleset
from tests.conftest import Cli

GATEWAY = """
[gateway]
lan_interfaces = ["lan0", "wlan0"]
staff_networks = ["198.18.1.128/25", "2001:db8:5::/64"]
dns_bypass_listen = "0.0.0.0:5354"
dot_catch_listen = "0.0.0.0:5853"
port_catch_listen = "[::]:5854"
allowed_egress = ["udp/123", "tcp/993", "tcp/5000-5010", "UDP/123"]
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


def test_a_gateway_without_staff_networks_gets_no_ruleset(tmp_path: Path, cli: Cli) -> None:
    """Empty once meant every client network: every pupil's device could reach the admin web's sign-in page."""
    text = GATEWAY.replace('staff_networks = ["198.18.1.128/25", "2001:db8:5::/64"]\n', "")
    with pytest.raises(ConfigError, match="'gateway.staff_networks' must be set when 'gateway.lan_interfaces' is"):
        load_config(write(tmp_path, text))
    config = load_config(write(tmp_path, GATEWAY))
    unchecked = replace(config, gateway=replace(config.gateway, staff_networks=()))  # built without load_config
    with pytest.raises(RulesetError, match=re.escape("'gateway.staff_networks' is empty")):
        render_ruleset(unchecked)
    cli.config.write_text(text)
    result = cli("gateway", "nftables", check=False)
    assert result.returncode == 1 and "'gateway.staff_networks' must be set" in result.stderr and not result.stdout


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


def test_the_ruleset_carries_the_current_bindings(cli: Cli, tmp_path: Path) -> None:
    """Loading the ruleset (a reload, or at boot) must not empty the address-to-MAC sets until the next device
    sync: the command writes the registry's bindings and the current DHCP leases into them."""
    import time

    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(f"{int(time.time()) + 3600} 02:00:00:00:00:31 198.18.1.31 leased-ipad *\n", encoding="utf-8")
    cli.config = write(tmp_path, GATEWAY.replace("[gateway]\n", f"[database]\nurl = \"sqlite:///{tmp_path}/var/sg.db\"\n"
                                                 f"[gateway]\nlease_files = [\"{leases}\"]\n"))
    # before `init` the database cannot be read: the sets stay empty, and the ruleset says why
    out = cli("gateway", "nftables").stdout
    assert "# The bindings could not be read (the database is not initialised: run `schoolgate init` first)" in out
    assert "set bound_v4 { type ipv4_addr; }" in out and nft_check(out).returncode == 0
    cli("init")
    for ip in ("198.18.1.20", "2001:db8:1::20"):
        cli("devices", "add", "--ip", ip, "--mac", "02:00:00:00:00:20", "--name", "Classmate iPad", "--group", "pupils")
    cli("devices", "add", "--ip", "198.18.1.40", "--name", "Library PC", "--group", "pupils")  # no MAC: not bound
    out = cli("gateway", "nftables").stdout
    assert "could not be read" not in out
    assert "set bound_v4 {\n        type ipv4_addr;\n        elements = { 198.18.1.20, 198.18.1.31 }\n    }" in out
    assert "set bound_v6 {\n        type ipv6_addr;\n        elements = { 2001:db8:1::20 }\n    }" in out
    assert ("set binding_v4 {\n        type ipv4_addr . ether_addr;\n"
            "        elements = { 198.18.1.20 . 02:00:00:00:00:20, 198.18.1.31 . 02:00:00:00:00:31 }\n    }") in out
    assert ("set binding_v6 {\n        type ipv6_addr . ether_addr;\n"
            "        elements = { 2001:db8:1::20 . 02:00:00:00:00:20 }\n    }") in out
    assert "198.18.1.40" not in out
    result = nft_check(out)
    assert result.returncode == 0, result.stderr


def test_default_deny_catches_the_rest_and_lets_allowed_egress_pass(tmp_path: Path) -> None:
    ruleset = render_ruleset(load_config(write(tmp_path, GATEWAY)))
    # allowed_egress, per protocol, a range kept as a range, the same port twice listed once
    assert "set egress_tcp {\n        type inet_service; flags interval; auto-merge;\n" \
           "        elements = { 993, 5000-5010 }" in ruleset
    assert "set egress_udp {\n        type inet_service; flags interval; auto-merge;\n" \
           "        elements = { 123 }" in ruleset
    prerouting = ruleset[ruleset.index("chain prerouting"):ruleset.index("chain forward")]
    forward = ruleset[ruleset.index("chain forward"):ruleset.index("chain input")]
    inbound = ruleset[ruleset.index("chain input"):]
    catch = ['meta l4proto tcp counter name "blocked_port" redirect to :5854',
             'meta l4proto udp meta mark set @th,0,32 ct mark set meta mark counter name "blocked_port" '
             "redirect to :5854"]
    # the catch-all comes after DNS, DoT and web are redirected, and after what must pass untouched
    before = ['"dns_gateway" redirect to :53\n', '"dns_bypass" redirect to :5354\n', "redirect to :5853\n",
              "fib daddr type local return", 'name "web_proxied" redirect to :8080\n',
              "meta pkttype { broadcast, multicast } return",
              "udp dport { 80, 443 } return", 'fib daddr oifname { "lan0", "wlan0" } return',
              "tcp dport @egress_tcp return", "udp dport @egress_udp return"]
    positions = [prerouting.rindex(rule) for rule in before] + [prerouting.index(rule) for rule in catch]
    assert positions == sorted(positions), positions
    # forward: 853 and QUIC refused first, then ping (before "established", which a ping tunnel's later
    # echoes are), then replies, LAN to LAN and allowed_egress; the rest dropped
    order = ['udp dport { 80, 443 } counter name "quic_dropped" drop', "udp dport 853 reject",
             'icmp type echo-request counter name "ping_dropped" drop',
             'icmpv6 type echo-request counter name "ping_dropped" drop',
             "ct state established,related accept", 'oifname { "lan0", "wlan0" } accept',
             "tcp dport @egress_tcp accept", "udp dport @egress_udp accept",
             'counter name "egress_dropped" drop\n    }']
    positions = [forward.index(rule) for rule in order]
    assert positions == sorted(positions), positions
    assert 'iifname { "lan0", "wlan0" } udp dport 5854 ct mark != 0 meta mark set ct mark' in inbound


def test_ping_to_the_internet_is_small_and_rate_limited_per_address(tmp_path: Path) -> None:
    """A ping tunnel carries data in echo payloads: only small echo requests pass, at most 5 a second (burst
    10) per source address; the rest is counted and dropped. Pings between LAN interfaces are not limited."""
    ruleset = render_ruleset(load_config(write(tmp_path, GATEWAY)))
    forward = ruleset[ruleset.index("chain forward"):ruleset.index("chain input")]
    lan = '{ "lan0", "wlan0" }'
    rules = [f"oifname != {lan} icmp type echo-request ip length <= 128 update @ping_v4 "
             "{ ip saddr limit rate 5/second burst 10 packets } accept",
             f'oifname != {lan} icmp type echo-request counter name "ping_dropped" drop',
             f"oifname != {lan} icmpv6 type echo-request ip6 length <= 108 update @ping_v6 "
             "{ ip6 saddr limit rate 5/second burst 10 packets } accept",
             f'oifname != {lan} icmpv6 type echo-request counter name "ping_dropped" drop']
    positions = [forward.index(rule) for rule in rules]
    assert positions == sorted(positions) and positions[-1] < forward.index("ct state established,related accept")
    assert "icmp type echo-request accept" not in forward and "icmpv6 type echo-request accept" not in forward
    for name, kind in (("ping_v4", "ipv4_addr"), ("ping_v6", "ipv6_addr")):
        assert f"set {name} {{ type {kind}; size 4096; flags dynamic,timeout; timeout 1m; }}" in ruleset
    assert 'counter ping_dropped { comment "' in ruleset
    result = nft_check(ruleset)
    assert result.returncode == 0, result.stderr


def test_identity_guard_before_nat(tmp_path: Path) -> None:
    ruleset = render_ruleset(load_config(write(tmp_path, GATEWAY)))
    guard = ruleset[ruleset.index("chain guard"):ruleset.index("chain prerouting")]
    assert "type filter hook prerouting priority raw; policy accept;" in guard
    rules = ['iifname != { "lan0", "wlan0" } return',
             'ip saddr @bound_v4 ip saddr . ether saddr != @binding_v4 counter name "spoof_dropped" drop',
             'ip6 saddr @bound_v6 ip6 saddr . ether saddr != @binding_v6 counter name "spoof_dropped" drop',
             "ip saddr 0.0.0.0 udp sport 68 udp dport 67 return", "ip6 saddr { ::, fe80::/10 } return",
             'fib saddr . iif oif missing counter name "rpf_dropped" drop']
    positions = [guard.index(rule) for rule in rules]
    assert positions == sorted(positions), positions
    for name, kind in (("bound_v4", "ipv4_addr"), ("bound_v6", "ipv6_addr"),
                       ("binding_v4", "ipv4_addr . ether_addr"), ("binding_v6", "ipv6_addr . ether_addr")):
        assert f"set {name} {{ type {kind}; }}" in ruleset


def test_no_allowed_egress_means_empty_sets_that_nft_accepts(tmp_path: Path) -> None:
    text = GATEWAY.replace('allowed_egress = ["udp/123", "tcp/993", "tcp/5000-5010", "UDP/123"]\n', "")
    ruleset = render_ruleset(load_config(write(tmp_path, text)))
    assert "set egress_tcp {\n        type inet_service; flags interval; auto-merge;\n    }" in ruleset
    result = nft_check(ruleset)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("value", "message"), [
    ('["tcp/22", "icmp/8"]', "'gateway.allowed_egress' holds 'icmp/8': expected tcp/PORT or udp/PORT"),
    ('["tcp/0"]', "'gateway.allowed_egress' holds 'tcp/0': '0' is not a port from 1 to 65535"),
    ('["udp/70000"]', "'gateway.allowed_egress' holds 'udp/70000'"),
    ('["tcp/5010-5000"]', "'gateway.allowed_egress' holds 'tcp/5010-5000'"),
    ('["tcp 22"]', "'gateway.allowed_egress' holds 'tcp 22'"),
    ('"tcp/22"', "'gateway.allowed_egress' must be a list of strings"),
])
def test_bad_allowed_egress_names_the_key(tmp_path: Path, value: str, message: str) -> None:
    from deploy.config import ConfigError

    text = GATEWAY.replace('["udp/123", "tcp/993", "tcp/5000-5010", "UDP/123"]', value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(("listen", "message"), [
    ("127.0.0.1:5854", "'gateway.port_catch_listen' is 127.0.0.1:5854, on loopback"),
    ("0.0.0.0:5853", r"'gateway.port_catch_listen' (0.0.0.0:5853) must use another port than "
                     "gateway.dot_catch_listen"),
    ("0.0.0.0:5354", "another port than gateway.dns_bypass_listen"),
    ("0.0.0.0:8080", "another port than proxy.listen"),
])
def test_the_port_catcher_needs_a_port_of_its_own(tmp_path: Path, listen: str, message: str) -> None:
    config = load_config(write(tmp_path, GATEWAY.replace('port_catch_listen = "[::]:5854"',
                                                         f'port_catch_listen = "{listen}"')))
    with pytest.raises(RulesetError, match=re.escape(message)):
        render_ruleset(config)


def test_the_installed_configuration_makes_a_ruleset_once_lan_interfaces_is_set(tmp_path: Path) -> None:
    """install.sh writes deploy/templates/schoolgate.toml and asks the technician for lan_interfaces and
    staff_networks only: every listener the ruleset redirects to must already be somewhere redirected traffic
    can reach."""
    template = (Path(__file__).parents[2] / "deploy" / "templates" / "schoolgate.toml").read_text(encoding="utf-8")
    text = template.replace("lan_interfaces = []", 'lan_interfaces = ["eth1"]').replace(
        "staff_networks = []", 'staff_networks = ["10.0.50.0/24"]')
    assert text.count('["eth1"]') == 1 and text.count('["10.0.50.0/24"]') == 2  # set, and the comment's example
    ruleset = render_ruleset(load_config(write(tmp_path, text)))
    assert "redirect to :5853" in ruleset and "redirect to :5854" in ruleset
    assert nft_check(ruleset).returncode == 0
