"""The device sync keeps the gateway's address-to-MAC sets current: against a real `table inet schoolgate`,
loaded from the generated ruleset in a throwaway network namespace (removed afterwards)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.bindings import sync_bindings, sync_gateway_bindings, update_script, wanted_sets
from deploy.config import load_config
from deploy.nftables import render_ruleset
from rules.devices.leases import Sighting
from rules.devices.registry import register_device
from rules.devices.sync import sync_devices
from rules.store.db import Database
from tests.deploy.test_gateway_nftables import GATEWAY
from tests.e2e.test_gateway_netns import cannot_make_namespaces

pytestmark = pytest.mark.root
NEIGH = "02:00:00:00:00:30"


@pytest.fixture
def nft_ns(tmp_path: Path) -> Iterator[list[str]]:
    """`nft` inside a fresh namespace (no ruleset yet), as a command prefix."""
    reason = cannot_make_namespaces()
    if reason:
        pytest.skip(reason)
    name = f"sg10gw-bind-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield ["ip", "netns", "exec", name, "nft"]
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def load(nft: list[str], tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(GATEWAY, encoding="utf-8")
    subprocess.run([*nft, "-f", "-"], input=render_ruleset(load_config(path)), text=True, check=True)


def kernel(nft: list[str]) -> dict[str, list[object]]:
    out = subprocess.run([*nft, "-j", "list", "table", "inet", "schoolgate"], capture_output=True, text=True,
                         check=True).stdout
    return {item["set"]["name"]: sorted(item["set"].get("elem", []), key=json.dumps)
            for item in json.loads(out)["nftables"]
            if "set" in item and item["set"]["name"].startswith(("bound", "binding"))}


def handles(nft: list[str]) -> list[int]:
    """The rules' handles: a reloaded ruleset gets new ones (and loses its counters)."""
    out = subprocess.run([*nft, "-j", "-a", "list", "table", "inet", "schoolgate"], capture_output=True, text=True,
                         check=True).stdout
    return [item["rule"]["handle"] for item in json.loads(out)["nftables"] if "rule" in item]


def test_the_sets_follow_the_registry_and_leases(sqlite_db: Database, nft_ns: list[str], tmp_path: Path) -> None:
    db = sqlite_db
    with db.session() as session:
        register_device(session, ip="198.18.1.20", mac="02:00:00:00:00:20", name="Classmate iPad", group="pupils",
                        actor="test")
        register_device(session, ip="2001:db8:1:0::20", mac="02:00:00:00:00:20", name="Classmate iPad",
                        group="pupils", actor="test")
        register_device(session, ip="198.18.1.21", name="Library PC (no MAC: not bound)", group="pupils",
                        actor="test")
        sync_devices(session, [Sighting("198.18.1.30", NEIGH, "neigh")])  # seen, not bound
    # before the ruleset is loaded: nothing to keep, nothing fails
    assert sync_gateway_bindings(["lan0"], db, nft=nft_ns).outcome == "skipped"
    load(nft_ns, tmp_path)
    rules = handles(nft_ns)
    lease = Sighting("198.18.1.40", "02:00:00:00:00:4A", "dhcp", "leased")
    result = sync_gateway_bindings(["lan0"], db, [lease], nft=nft_ns)
    assert (result.outcome, result.bound) == ("updated", 3)
    assert kernel(nft_ns) == {
        "bound_v4": ["198.18.1.20", "198.18.1.40"], "bound_v6": ["2001:db8:1::20"],
        "binding_v4": [{"concat": ["198.18.1.20", "02:00:00:00:00:20"]},
                       {"concat": ["198.18.1.40", "02:00:00:00:00:4a"]}],
        "binding_v6": [{"concat": ["2001:db8:1::20", "02:00:00:00:00:20"]}]}
    # the same again: the kernel already holds it, nothing is written
    assert sync_gateway_bindings(["lan0"], db, [lease], nft=nft_ns).outcome == "unchanged"
    # the lease ends and the iPad is registered at another address: one transaction, the rules untouched
    with db.session() as session:
        register_device(session, ip="198.18.1.22", mac="02:00:00:00:00:20", name="Classmate iPad",
                        group="pupils", actor="test")
    result = sync_gateway_bindings(["lan0"], db, [], nft=nft_ns)
    assert (result.outcome, result.bound) == ("updated", 3)
    sets = kernel(nft_ns)
    assert sorted(str(e) for e in sets["bound_v4"]) == ["198.18.1.20", "198.18.1.22"]
    assert handles(nft_ns) == rules
    # not a gateway (no lan_interfaces): never touched
    assert sync_gateway_bindings([], db, nft=nft_ns).outcome == "skipped"


def test_without_nft_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert sync_bindings({"198.18.1.20": "02:00:00:00:00:20"}).outcome == "skipped"


def test_an_empty_registry_writes_only_flushes() -> None:
    script = update_script(wanted_sets({}))
    assert script.splitlines() == [f"flush set inet schoolgate {name}"
                                   for name in ("bound_v4", "bound_v6", "binding_v4", "binding_v6")]
