"""The school's CA certificate, for devices whose HTTPS the proxy opens (intercept_tls)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, send_file
from flask.typing import ResponseReturnValue

from admin_web.access import ANY, roles

bp = Blueprint("ca", __name__, url_prefix="/certificate")
CA_FILE = Path("mitmproxy") / "mitmproxy-ca-cert.pem"


def ca_path() -> Path:
    return Path(current_app.config["SCHOOLGATE_STATE_DIR"]) / CA_FILE


@bp.route("/")
@roles(*ANY)
def index() -> ResponseReturnValue:
    path = ca_path()
    return render_template("ca/index.html", present=path.is_file())


@bp.route("/schoolgate-ca.pem")
@roles(*ANY)
def download() -> ResponseReturnValue:
    path = ca_path()
    if not path.is_file():
        abort(404)
    return send_file(path.resolve(), mimetype="application/x-pem-file", as_attachment=True,
                     download_name="schoolgate-ca.pem")
