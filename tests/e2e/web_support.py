"""The real admin web for end-to-end tests: `schoolgate web` in a subprocess, headless Chromium, a signed-in person."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from deploy.config import load_config
from tests.conftest import ROOT, Cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "test-output" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_scheme(cli: Cli) -> str:
    """How the web of this configuration is served: "https" (the certificate `init` made), or "http" where
    `[web] allow_http` and an http:// public_url say so."""
    return urlsplit(load_config(cli.config).web.public_url).scheme


@contextmanager
def web_process(cli: Cli, folder: Path, port: int | None = None) -> Iterator[str]:
    """`schoolgate web` on 127.0.0.1 (a free port unless given); yields its base URL (https:// unless the
    configuration allows plain HTTP), stops it afterwards."""
    scheme = web_scheme(cli)
    port = port or free_port()
    env = {**os.environ, "SCHOOLGATE_CONFIG": str(cli.config)}
    env.pop("SCHOOLGATE_DATABASE_URL", None)
    log_path = folder / f"web-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "deploy.cli", "web", "--listen", f"127.0.0.1:{port}"],
                                cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"schoolgate web did not start:\n{log_path.read_text()}") from None
                    time.sleep(0.2)
            yield f"{scheme}://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=15)


class Person:
    """One member of staff in their own browser context, failing the test if any dialog opens.

    The context accepts the admin web's certificate without the school's CA: these tests are about what staff
    do; that Chromium trusts the certificate once the CA is trusted is tested in test_web_tls.py."""

    def __init__(self, browser: object, base: str, account: tuple[str, str, str]) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                           ignore_https_errors=True)
        self.page = self.context.new_page()
        self.base = base
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(base + "/signin")
        self.page.fill("input[name=email]", account[0])
        self.page.fill("input[name=password]", account[2])
        self.page.click("button:has-text('Sign in')")
        self.page.wait_for_url(base + "/")

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        assert not self.dialogs, f"a dialog fired: {self.dialogs}"
        assert not [e for e in self.errors if "Content Security Policy" in e], self.errors
        self.context.close()
