"""End to end, in the dual-stack lab of test_gateway_egress_netns (pupil / gateway / internet namespaces, the
generated ruleset loaded, the real `schoolgate dns` and `schoolgate proxy`): the transparent proxy connects
only where the decided name leads. A pupil who knows a blocked site's address (or runs a VPN over TLS or an
HTTP tunnel on 443 or 80) and sends an allowed name, or none, must not get through.

Addresses come from 198.18.0.0/15 and 2001:db8::/32 only; the lab fixture removes everything it made.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.test_gateway_egress_netns import CATCH_PORT, GATEWAY_LAN, INTERNET, lab
from tests.e2e.test_gateway_netns import INTERNET_SERVICES, PUPIL_CLIENT, Lab, sh, start_in, stop_group, wait_listening
from tests.e2e.test_gateway_spoofing_netns import setup_gateway

pytestmark = pytest.mark.root
__all__ = ["lab"]  # the lab fixture, reused

FACEBOOK, LEARN = "198.19.0.3", "198.19.0.4"
FACEBOOK_NAME, LEARN_NAME = "www.facebook.com", "learn.example.org"


def test_transparent_proxy_connects_only_where_the_decided_name_leads(lab: Lab, cli: Cli, tmp_path: Path) -> None:
    """The proxy decides on the SNI / Host header (or a bare address): with an allowed name the connection
    goes where that name leads, and without a name it is refused, so facebook's address never answers."""
    from tests.e2e.proxy_support import self_signed

    env, _ = setup_gateway(lab, cli, tmp_path)
    for address in (FACEBOOK, LEARN):
        sh("ip", "-n", lab.internet, "addr", "add", f"{address}/24", "dev", "eth0")
    spec: dict[str, object] = {"resolver": INTERNET, "names": {FACEBOOK_NAME: FACEBOOK, LEARN_NAME: LEARN},
                               "origins": {}}
    for address, name in ((FACEBOOK, FACEBOOK_NAME), (LEARN, LEARN_NAME)):
        folder = tmp_path / name
        folder.mkdir()
        cert, key = self_signed(folder, [name])
        spec["origins"][address] = {"name": name, "cert": str(cert), "key": str(key)}  # type: ignore[index]
    internet = subprocess.Popen(["ip", "netns", "exec", lab.internet, sys.executable, "-c", INTERNET_SERVICES,
                                 json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lab.processes.append(internet)
    assert internet.stdout is not None and internet.stdout.readline().strip() == "ready"

    logs = [tmp_path / "dns.log", tmp_path / "proxy.log"]
    services = [start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "dns"], logs[0], env, tmp_path),
                start_in(lab, lab.gateway, [sys.executable, "-m", "deploy.cli", "proxy"], logs[1], env, tmp_path)]
    try:
        wait_listening(lab, services, logs, {f"udp:{GATEWAY_LAN}:5353", f"tcp:{GATEWAY_LAN}:8080",
                                             f"tcp:*:{CATCH_PORT}"})

        def pupil(*args: str) -> dict[str, object]:
            answer: dict[str, object] = json.loads(lab.run_in(lab.pupil, sys.executable, "-c", PUPIL_CLIENT, *args))
            return answer

        # the filter works for the plain attempt: facebook by its name is refused, over HTTP and HTTPS
        assert pupil("http", FACEBOOK, FACEBOOK_NAME).get("status") == 403
        assert "error" in pupil("https", FACEBOOK, FACEBOOK_NAME, "-")
        attempts = {
            "TLS to facebook's address with an allowed SNI": pupil("https", FACEBOOK, LEARN_NAME, "-"),
            "TLS to facebook's address with no SNI": pupil("https", FACEBOOK, FACEBOOK, "-"),
            "HTTP to facebook's address with an allowed Host": pupil("http", FACEBOOK, LEARN_NAME),
            "HTTP to facebook's address by the address": pupil("http", FACEBOOK, FACEBOOK),
        }
    finally:
        codes = [stop_group(process) for process in services]
    assert codes == [0, 0], "\n".join(log.read_text() for log in logs)
    reached = {what: answer for what, answer in attempts.items()
               if f"origin {FACEBOOK_NAME}" in str(answer.get("body"))}
    assert reached == {}, f"facebook's server answered the pupil: {reached}"
    # the allowed name still works: it is served by the server that name leads to, whatever address was chosen
    for what in ("TLS to facebook's address with an allowed SNI", "HTTP to facebook's address with an allowed Host"):
        assert f"origin {LEARN_NAME}" in str(attempts[what].get("body")), (what, attempts[what])
    assert attempts["HTTP to facebook's address by the address"].get("status") == 403
