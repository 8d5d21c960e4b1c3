"""End to end: the admin web over HTTPS, as staff's browsers meet it.

`schoolgate init` makes the web's certificate, signed by the school's CA; real Chromium refuses it until the CA
is in its trust store (an NSS database in a HOME of its own, written with certutil, as on a managed device),
then signs in with a Secure, HttpOnly session cookie and receives HSTS. A gateway configuration that would
serve plain HTTP, or that has no certificate, or no staff networks, stops `schoolgate web` (and `run`) at
start with the key named. The school's own certificate is served when configured; plain HTTP works only on
loopback with allow_http. The access log never holds a query string.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certificates import TestCa
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, CHROMIUM_ARGS, free_port, web_process

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
              pytest.mark.skipif(shutil.which("certutil") is None, reason="needs certutil (Debian's libnss3-tools)")]

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
GATEWAY = """
[database]
url = "sqlite:///{var}/schoolgate.db"
[gateway]
lan_interfaces = ["lan0"]
staff_networks = ["198.18.1.128/25"]
[web]
listen = "0.0.0.0:{port}"
"""


def init_school(cli: Cli) -> None:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--password-stdin", input=HEAD[2] + "\n")


def school_ca(folder: Path) -> Path:
    """The school's CA certificate, as the admin web offers it at /certificate/schoolgate-ca.pem."""
    return folder / "var" / "mitmproxy" / "mitmproxy-ca-cert.pem"


def browser_home(folder: Path, trust: Path | None) -> Path:
    """A HOME whose NSS database (what Chromium on Linux trusts besides its built-in roots) holds `trust`."""
    home = folder / ("home-trusting" if trust else "home-plain")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True)
    if trust:
        subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "school CA", "-t", "C,,", "-i", str(trust)],
                       check=True, capture_output=True)
    return home


@pytest.fixture
def playwright() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        yield p


def launch(playwright: object, home: Path, *extra: str) -> object:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra],  # type: ignore[attr-defined]
                                      env={**os.environ, "HOME": str(home)})


def start_refused(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """`schoolgate ARGS`, which must stop by itself (a server that started would be a failure, not a hang)."""
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)
    try:
        result = subprocess.run([sys.executable, "-m", "deploy.cli", *args], cwd=cli.cwd, env=env,
                                capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"schoolgate {' '.join(args)} started instead of refusing")
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("host", ["127.0.0.1", "admin.school.test"])
def test_chromium_trusts_the_admin_web_once_the_school_ca_is(cli: Cli, tmp_path: Path, playwright: object,
                                                             host: str) -> None:
    port = free_port()
    if host != "127.0.0.1":  # a name: the certificate carries it as a DNS name; Chromium is told where it lives
        cli.config.write_text(cli.config.read_text() + f'[web]\npublic_url = "https://{host}:{port}"\n')
    init_school(cli)
    rules = [f"--host-resolver-rules=MAP {host} 127.0.0.1"] if host != "127.0.0.1" else []
    with web_process(cli, tmp_path, port) as base:
        assert base == f"https://127.0.0.1:{port}"
        url = f"https://{host}:{port}"

        # Before the school's CA is trusted, Chromium refuses the certificate: nothing is sent to the web.
        browser = launch(playwright, browser_home(tmp_path, None), *rules)
        page = browser.new_page()  # type: ignore[attr-defined]
        with pytest.raises(playwright_api.Error, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(url + "/signin")
        browser.close()  # type: ignore[attr-defined]

        # Once it is trusted: no warning, the certificate init made (for this host, by the school's CA).
        browser = launch(playwright, browser_home(tmp_path, school_ca(tmp_path)), *rules)
        page = browser.new_page()  # type: ignore[attr-defined]
        response = page.goto(url + "/signin?next=%2Flogs%2F%3Fclient%3D10.0.0.5")
        assert response.ok and response.headers["strict-transport-security"] == "max-age=31536000"
        details = response.security_details()
        assert details["subjectName"] == host and details["issuer"] == "mitmproxy"
        page.fill("input[name=email]", HEAD[0])
        page.fill("input[name=password]", HEAD[2])
        page.click("button:has-text('Sign in')")
        page.wait_for_url(url + "/logs/?client=10.0.0.5")
        [session] = [c for c in page.context.cookies() if c["name"] == "schoolgate_session"]
        assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"
        assert "Access log" in page.inner_text("h1")
        browser.close()  # type: ignore[attr-defined]
    log = (tmp_path / f"web-{port}.log").read_text()
    assert '"GET /signin HTTP/1.1" 200' in log and '"GET /logs/ HTTP/1.1" 200' in log
    assert "10.0.0.5" not in log and "?" not in log.replace("Invalid request", "")  # no query string, anywhere


def test_a_gateway_without_https_or_staff_networks_is_refused_at_start(cli: Cli, tmp_path: Path) -> None:
    gateway = GATEWAY.format(var=tmp_path / "var", port=free_port())
    cli.config.write_text(gateway)
    init_school(cli)

    cli.config.write_text(gateway + 'public_url = "http://198.18.1.1:8000"\nallow_http = true\n')
    refused = start_refused(cli, "web")
    assert "'web.allow_http' = true is for loopback development only" in refused.stderr
    cli.config.write_text(gateway + 'public_url = "http://198.18.1.1:8000"\n')
    assert "'web.public_url' is 'http://198.18.1.1:8000'" in start_refused(cli, "web").stderr

    cli.config.write_text(gateway)
    (tmp_path / "var" / "web-cert.pem").unlink()  # as a database made before the web had a certificate
    for command in (["web"], ["web", "--dev"], ["run", "--only", "web", "--only", "scheduler"]):
        refused = start_refused(cli, *command)
        assert "the admin web has no certificate: 'web.tls_cert' is not set" in refused.stderr
        assert "run `schoolgate init`" in refused.stderr and "started" not in refused.stderr

    cli.config.write_text(gateway.replace('staff_networks = ["198.18.1.128/25"]\n', ""))
    refused = start_refused(cli, "web")
    assert "'gateway.staff_networks' must be set when 'gateway.lan_interfaces' is" in refused.stderr


def test_the_schools_own_certificate_is_served(cli: Cli, tmp_path: Path) -> None:
    own_ca = TestCa(tmp_path / "own")
    cert, key = own_ca.issue(["127.0.0.1"], "web")
    init_school(cli)
    base_config = cli.config.read_text()
    cli.config.write_text(base_config + f'[web]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    with web_process(cli, tmp_path) as base:
        context = ssl.create_default_context(cafile=str(own_ca.cert_path))  # the school's own CA, not ours
        with urllib.request.urlopen(base + "/signin", context=context, timeout=10) as response:
            assert response.status == 200 and response.headers["Strict-Transport-Security"] == "max-age=31536000"
    other_key = own_ca.issue(["127.0.0.1"], "other")[1]
    cli.config.write_text(base_config + f'[web]\ntls_cert = "{cert}"\ntls_key = "{other_key}"\n')
    assert f"'web.tls_key' ({other_key}) is not the key of 'web.tls_cert' ({cert})" in start_refused(cli, "web").stderr
    cli.config.write_text(base_config + f'[web]\ntls_cert = "{tmp_path}/nowhere.pem"\ntls_key = "{key}"\n')
    assert f"'web.tls_cert' names {tmp_path}/nowhere.pem, which does not exist" in start_refused(cli, "web").stderr


def test_plain_http_only_on_loopback_with_allow_http(cli: Cli, tmp_path: Path) -> None:
    cli.config.write_text(cli.config.read_text() + '[web]\npublic_url = "http://127.0.0.1:8000"\nallow_http = true\n')
    init_school(cli)
    with web_process(cli, tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + "/signin", timeout=10) as response:
            assert response.status == 200 and "Strict-Transport-Security" not in response.headers
            assert "Secure" not in response.headers["Set-Cookie"]  # a Secure cookie would never come back


def test_the_cookie_is_secure_however_the_scheme_is_written(cli: Cli, tmp_path: Path) -> None:
    """"HTTPS://" is https: the web served TLS (with the school's own certificate) but sent the session cookie
    without Secure, and `init` said none was needed ("is plain HTTP, [web] allow_http")."""
    cli.config.write_text(cli.config.read_text() + '[web]\npublic_url = "HTTPS://127.0.0.1:8000"\n')
    init_school(cli)
    assert (tmp_path / "var" / "web-cert.pem").is_file()
    with web_process(cli, tmp_path) as base:
        assert base.startswith("https://")
        context = ssl.create_default_context(cafile=str(school_ca(tmp_path)))
        with urllib.request.urlopen(base + "/signin", context=context, timeout=10) as response:
            cookie = response.headers["Set-Cookie"]
            assert "; Secure" in cookie and "; HttpOnly" in cookie, cookie
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_listen_on_the_command_line_cannot_take_plain_http_off_loopback(cli: Cli, tmp_path: Path) -> None:
    """allow_http is refused unless [web] listen is loopback; `web --listen 0.0.0.0:PORT` served plain HTTP (staff
    passwords in clear) on every interface all the same."""
    cli.config.write_text(cli.config.read_text() + '[web]\npublic_url = "http://127.0.0.1:8000"\nallow_http = true\n')
    init_school(cli)
    for args in (["web"], ["web", "--dev"]):
        refused = start_refused(cli, *args, "--listen", f"0.0.0.0:{free_port()}")
        assert "'web.allow_http' = true serves plain HTTP, which is for loopback development only" in refused.stderr
    assert "--listen 127.0.0.1:80:80" in start_refused(cli, "web", "--listen", "127.0.0.1:80:80").stderr
