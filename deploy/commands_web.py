"""`schoolgate web`: the admin web under gunicorn (production), or Flask's own server with --dev."""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication

from deploy.config import parse_hostport
from deploy.context import pass_app
from deploy.root import build_web

WORKERS = 2
THREADS = 4


class WebServer(BaseApplication):
    """gunicorn, configured from [web] listen, serving the app built once by `build_web()`."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


@click.command()
@click.option("--listen", metavar="ADDRESS:PORT", help="Override [web] listen.")
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn (never in production).")
@pass_app
def web(app, listen: str | None, dev: bool) -> None:
    """The admin web: forms, approvals, access logs and audit."""
    config = app.config
    host, port = parse_hostport(listen or config.web.listen)
    flask_app = build_web(config, app.ready_database())
    if dev:
        flask_app.run(host=host, port=port, debug=False, use_reloader=False)
        return
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    WebServer(flask_app, {"bind": bind, "workers": WORKERS, "threads": THREADS, "worker_class": "gthread",
                          "accesslog": "-", "errorlog": "-", "timeout": 60, "graceful_timeout": 10,
                          "proc_name": "schoolgate-web"}).run()


COMMANDS = [web]
