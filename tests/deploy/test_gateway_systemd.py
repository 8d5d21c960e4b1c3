"""`schoolgate gateway systemd DIR`: hardened units that systemd itself accepts."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.config import load_config
from deploy.systemd import render_units, write_units
from tests.conftest import Cli

NAMES = ("dns", "proxy", "web", "scheduler")
HARDENING = {
    "User": "schoolgate", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/schoolgate",
    "StateDirectory": "schoolgate", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
    "SystemCallFilter": "@system-service", "Restart": "on-failure",
}


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_each_unit_is_hardened_with_least_capabilities() -> None:
    units = render_units(load_config(None))
    assert sorted(units) == sorted(f"schoolgate-{n}.service" for n in NAMES)
    for name in NAMES:
        service = parse(units[f"schoolgate-{name}.service"])["Service"]
        for key, value in HARDENING.items():
            assert service[key] == value, (name, key)
        assert service["ExecStart"] == \
            f"/opt/schoolgate/venv/bin/schoolgate --config /etc/schoolgate/schoolgate.toml {name}"
        assert "AF_INET" in service["RestrictAddressFamilies"]
        expected_caps = "CAP_NET_BIND_SERVICE" if name == "dns" else ""
        assert service["CapabilityBoundingSet"] == expected_caps, name
        assert service["AmbientCapabilities"] == expected_caps, name
    assert "AF_NETLINK" in parse(units["schoolgate-scheduler.service"])["Service"]["RestrictAddressFamilies"]


def test_a_low_port_gives_that_service_bind_capability(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[web]\nlisten = "0.0.0.0:443"\n')
    units = render_units(load_config(path))
    assert parse(units["schoolgate-web.service"])["Service"]["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert parse(units["schoolgate-proxy.service"])["Service"]["CapabilityBoundingSet"] == ""


def test_on_a_gateway_the_scheduler_may_update_nft_sets(tmp_path: Path) -> None:
    """The device sync refills the ruleset's address-to-MAC sets: CAP_NET_ADMIN, for the scheduler only."""
    path = tmp_path / "c.toml"
    path.write_text('[gateway]\nlan_interfaces = ["eth1"]\nstaff_networks = ["10.0.50.0/24"]\n')
    units = render_units(load_config(path))
    expected = {"dns": "CAP_NET_BIND_SERVICE", "proxy": "", "web": "", "scheduler": "CAP_NET_ADMIN"}
    for name, caps in expected.items():
        service = parse(units[f"schoolgate-{name}.service"])["Service"]
        assert (service["CapabilityBoundingSet"], service["AmbientCapabilities"]) == (caps, caps), name


@pytest.mark.parametrize("gateway", [False, True])
def test_units_pass_systemd_analyze_verify(tmp_path: Path, gateway: bool) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here; the units are checked by parsing only")
    # verify checks that ExecStart exists, so point the units at this environment's schoolgate.
    executable = str(Path(sys.executable).parent / "schoolgate")
    path = tmp_path / "c.toml"
    path.write_text('[gateway]\nlan_interfaces = ["eth1"]\nstaff_networks = ["10.0.50.0/24"]\n'
                    '[dns]\nlisten = ["0.0.0.0:53"]\n' if gateway else "")
    paths = write_units(tmp_path / "units", render_units(load_config(path), executable=executable))
    assert len(paths) == 4
    result = subprocess.run(["systemd-analyze", "verify", *map(str, paths)], capture_output=True, text=True,
                            check=False)
    # verify reports unknown keys and bad values as warnings with status 0: any output is a failure.
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr


def test_verify_would_catch_a_bad_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    executable = str(Path(sys.executable).parent / "schoolgate")
    text = render_units(load_config(None), executable=executable)["schoolgate-dns.service"]
    bad = tmp_path / "schoolgate-bad.service"
    bad.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    result = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, check=False)
    assert "sometimes" in result.stderr


def test_command_writes_units_once(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "system"
    first = cli("gateway", "systemd", str(target)).stdout
    assert first.count("wrote ") == 4
    second = cli("gateway", "systemd", str(target)).stdout
    assert second.strip() == f"units in {target} are up to date"
    assert sorted(p.name for p in target.iterdir()) == sorted(f"schoolgate-{n}.service" for n in NAMES)
