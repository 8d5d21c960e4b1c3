"""`schoolgate devices sync`: lease files into the registry, from the operator's shell."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import Cli


def test_devices_sync_from_a_lease_file(initialised_cli: Cli, tmp_path: Path) -> None:
    leases = tmp_path / "dnsmasq.leases"
    later = int(time.time()) + 3600
    leases.write_text(f"{later} 02:00:00:00:00:01 198.18.1.10 pupil-ipad-07 *\nrubbish\n")
    out = initialised_cli("devices", "sync", "--leases", str(leases), "--no-neigh").stdout
    assert "new device: pupil-ipad-07 (02:00:00:00:00:01, 198.18.1.10)" in out
    assert out.strip().endswith("1 addresses seen, 1 new devices, 0 moved, 1 unreadable lines")
    leases.write_text(f"{later} 02:00:00:00:00:01 198.18.1.99 pupil-ipad-07 *\n")
    out = initialised_cli("devices", "sync", "--leases", str(leases), "--no-neigh").stdout
    assert "moved: pupil-ipad-07: 198.18.1.10 -> 198.18.1.99" in out
    rows = [json.loads(line) for line in initialised_cli("devices", "list", "--json").stdout.splitlines()]
    assert [(r["name"], r["mac"], r["addresses"], r["status"], r["group"]) for r in rows] == [
        ("pupil-ipad-07", "02:00:00:00:00:01", ["198.18.1.99"], "unknown", "pupils")]
