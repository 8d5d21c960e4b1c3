"""`schoolgate web`: the admin web under gunicorn (production), or Flask's own server with --dev.

Both serve HTTPS with the certificate `schoolgate init` made (or `[web] tls_cert`/`tls_key`), and neither
starts without one unless `[web] allow_http` allows plain HTTP on loopback. Neither logs query strings:
the access log's format has the path only, since the access log's filters name pupils and devices.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from werkzeug.serving import WSGIRequestHandler

from deploy.config import LOOPBACK_ONLY, ConfigError, parse_hostport
from deploy.context import CommandError, pass_app
from deploy.root import build_web, web_tls_files

WORKERS = 2
THREADS = 4
# gunicorn's default format with %(r)s (the request line, query string and all) and the referer (the previous
# page's query string) replaced by the path alone (%(U)s).
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class WebServer(BaseApplication):
    """gunicorn, configured from [web] listen, serving the app built once by `build_web()`."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 27's control socket lives at $HOME/.gunicorn/gunicorn.ctl, one path for every instance on
            # the machine (and a write under /root for a service); schoolgate never uses it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return self.application


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Flask's development server, logging each request's path without its query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.path = self.path.split("?", 1)[0]  # the response is sent: the path is only read for this line
        super().log_request(code, size)


@click.command()
@click.option("--listen", metavar="ADDRESS:PORT", help="Override [web] listen.")
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn (never in production).")
@pass_app
def web(app, listen: str | None, dev: bool) -> None:
    """The admin web: forms, approvals, access logs and audit."""
    config = app.config
    try:
        host, port = parse_hostport(listen or config.web.listen)
    except ValueError as exc:
        raise CommandError(f"--listen {listen}: {exc}") from None
    try:
        tls = web_tls_files(config)  # before anything is opened: no certificate, no start
    except ConfigError as exc:
        raise CommandError(f"bad configuration: {exc}") from None
    if tls is None and not _loopback(host):
        # The configuration allows plain HTTP only with [web] listen on loopback; --listen must not widen it.
        raise CommandError(f"--listen {listen}: 'web.allow_http' = true serves plain HTTP, which is for "
                           f"{LOOPBACK_ONLY}: listen on a loopback address, or remove allow_http and serve HTTPS "
                           "(`schoolgate init` makes the certificate)")
    flask_app = build_web(config, app.ready_database())
    if dev:
        flask_app.run(host=host, port=port, debug=False, use_reloader=False, request_handler=PathOnlyRequestHandler,
                      ssl_context=(str(tls.cert), str(tls.key)) if tls else None)
        return
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, Any] = {"bind": bind, "workers": WORKERS, "threads": THREADS, "worker_class": "gthread",
                               "accesslog": "-", "access_log_format": ACCESS_LOG_FORMAT, "errorlog": "-",
                               "timeout": 60, "graceful_timeout": 10, "proc_name": "schoolgate-web"}
    if tls:
        options.update(certfile=str(tls.cert), keyfile=str(tls.key))
    WebServer(flask_app, options).run()


COMMANDS = [web]
