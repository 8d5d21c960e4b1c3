"""deploy/install.sh: every step shown by --dry-run; installing twice in a Debian chroot changes nothing twice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "deploy" / "install.sh"
STEPS = ["check the system", "system packages: python3 python3-venv nftables", "Python 3.12 or newer",
         "system user schoolgate", "folders /etc/schoolgate and /var/lib/schoolgate",
         "virtual environment /opt/schoolgate/venv", "configuration /etc/schoolgate/schoolgate.toml",
         "database (create or upgrade)", "systemd units in /etc/systemd/system",
         "nftables rules /etc/nftables.d/schoolgate.nft", "done"]
BASE_PYTHON = os.path.realpath(sys.executable)  # this machine's Python 3.12, not the venv's link to it
CHROOT = os.environ.get("SCHOOLGATE_TEST_CHROOT")  # a `debootstrap bookworm` (or trixie) folder


def steps(output: str) -> list[str]:
    return [line[4:].split(" (")[0] if line.startswith("==> Python") else line[4:]
            for line in output.splitlines() if line.startswith("==> ")]


def is_debian() -> bool:
    text = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    return bool(re.search(r'^ID=debian$', text, re.M) and re.search(r'^VERSION_ID="?1[23]"?$', text, re.M))


def test_the_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_dry_run_shows_each_step_and_changes_nothing() -> None:
    if not is_debian():
        pytest.skip("install.sh runs on Debian 12 or 13 only, and this is not one")
    before = {p: p.exists() for p in (Path("/etc/schoolgate"), Path("/opt/schoolgate"), Path("/var/lib/schoolgate"))}
    result = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--python", BASE_PYTHON], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert [s.removesuffix(" or newer") for s in steps(result.stdout)] == \
        [s.removesuffix(" or newer") for s in STEPS]
    out = result.stdout
    assert "pip install --quiet --upgrade" in out and "schoolgate --config /etc/schoolgate/schoolgate.toml init" in out
    assert "gateway systemd /etc/systemd/system" in out and 'include "/etc/nftables.d/schoolgate.nft"' in out
    # Every step either says what it would do or that it is done already.
    for block in out.split("==> ")[2:-1]:
        assert "would run: " in block or "ok, already done" in block or "would use" in block \
            or block.startswith("Python"), block
    assert {p: p.exists() for p in before} == before


def test_a_python_older_than_312_is_refused_with_the_way_out(tmp_path: Path) -> None:
    if not is_debian():
        pytest.skip("install.sh runs on Debian 12 or 13 only")
    old = tmp_path / "python3.11"
    old.write_text("#!/bin/sh\nexit 1\n")
    old.chmod(0o755)
    result = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--python", str(old)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert "is not Python 3.12 or newer (Debian 12 ships 3.11): pass --python" in result.stderr


@pytest.fixture
def chroot() -> Iterator[Path]:
    """The chroot named by $SCHOOLGATE_TEST_CHROOT with this checkout, the wheels and a Python 3.12 mounted."""
    if not CHROOT:
        pytest.skip("set SCHOOLGATE_TEST_CHROOT to a debootstrapped Debian 12/13 folder to install for real")
    if os.geteuid() != 0:
        pytest.skip("a chroot needs root")
    root = Path(CHROOT)
    prefix = Path(BASE_PYTHON).parent.parent  # e.g. /root/.pyenv/versions/3.12.1
    mounts = []
    try:
        for source in (Path("/proc"), Path("/dev"), Path("/opt/wheels"), Path("/opt/pypi"), Path("/opt/pypi-more"),
                       prefix):
            if not source.exists():
                continue
            target = root / str(source).lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
            mounts.append(target)
        # This machine reaches the package index through a proxy with its own CA: lend the chroot the bundle.
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.exists() and (root / str(bundle).lstrip("/")).exists():
            subprocess.run(["mount", "--bind", "-o", "ro", str(bundle), str(root / str(bundle).lstrip("/"))],
                           check=True)
            mounts.append(root / str(bundle).lstrip("/"))
        # The borrowed Python lives under /root (pyenv); the schoolgate user must be able to run it.
        (root / "root").chmod(0o711)
        # Start from a Debian that has never seen schoolgate (an earlier run may have installed it).
        subprocess.run(["chroot", str(root), "userdel", "schoolgate"], capture_output=True, check=False)
        subprocess.run(["chroot", str(root), "groupdel", "schoolgate"], capture_output=True, check=False)
        for leftover in ("etc/schoolgate", "opt/schoolgate", "var/lib/schoolgate", "etc/nftables.d"):
            shutil.rmtree(root / leftover, ignore_errors=True)
        for unit in (root / "etc/systemd/system").glob("schoolgate-*.service"):
            unit.unlink()
        nft_conf = root / "etc/nftables.conf"
        if nft_conf.exists():
            nft_conf.write_text("".join(line for line in nft_conf.read_text().splitlines(keepends=True)
                                        if "schoolgate" not in line))
        src = root / "usr/src/schoolgate"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        yield root
    finally:
        for target in reversed(mounts):
            subprocess.run(["umount", "-l", str(target)], check=False)


def install(root: Path) -> str:
    pip_args = "--extra-index-url file:///opt/pypi/simple --find-links /opt/wheels"
    result = subprocess.run(["chroot", str(root), "/bin/bash", "/usr/src/schoolgate/deploy/install.sh",
                             "--python", BASE_PYTHON, "--pip-args", pip_args], capture_output=True, text=True,
                            check=False, timeout=900, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                                 "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_install_twice_in_a_debian_chroot(chroot: Path) -> None:
    first = install(chroot)
    assert "+ useradd --system" in first and "not yet: " in first
    config = chroot / "etc/schoolgate/schoolgate.toml"
    config.write_text(config.read_text().replace("lan_interfaces = []", 'lan_interfaces = ["lan0"]')
                      .replace("staff_networks = []", 'staff_networks = ["198.18.1.128/25"]') +
                      "# edited by the technician\n")
    second = install(chroot)
    for already in ("user exists", "present", "kept as it is"):
        assert f"ok, already done: {already}" in second
    assert "+ useradd" not in second and "+ install -m 0640" not in second
    assert "wrote /etc/nftables.d/schoolgate.nft" in second
    third = install(chroot)
    print(first, second, third, sep="\n---- next run ----\n")  # shown with -s, or when the test fails
    assert "ok, already done: rules up to date" in third and "ok, already done: included from" in third
    assert "units in /etc/systemd/system are up to date" in third
    assert config.read_text().endswith("# edited by the technician\n")
    assert (chroot / "etc/nftables.conf").read_text().count('include "/etc/nftables.d/schoolgate.nft"') == 1
    units = sorted(p.name for p in (chroot / "etc/systemd/system").glob("schoolgate-*.service"))
    assert units == ["schoolgate-dns.service", "schoolgate-proxy.service", "schoolgate-scheduler.service",
                     "schoolgate-web.service"]
    assert (chroot / "var/lib/schoolgate/schoolgate.db").exists()
