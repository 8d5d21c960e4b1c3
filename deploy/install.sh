#!/usr/bin/env bash
# Install or upgrade schoolgate on a Debian 12 or 13 gateway. Safe to run again: every step looks first
# and changes only what is missing or out of date; the configuration file is never overwritten.
#
#   sudo deploy/install.sh [--dry-run] [--python PATH] [--pip-args "ARGS"] [--source DIR]
#
# --dry-run      say what each step would do, change nothing (needs no root)
# --python PATH  a Python 3.12 or newer for the venv (Debian 12's python3 is 3.11: pass a 3.12 here)
# --pip-args     extra pip arguments, e.g. "--no-index --find-links /srv/wheels" on a gateway without PyPI
# --source DIR   the schoolgate source to install (default: the checkout this script is in)
set -euo pipefail

DRY_RUN=0
PYTHON=python3
PIP_ARGS=""
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
USER_NAME=schoolgate
PREFIX=/opt/schoolgate
VENV="$PREFIX/venv"
ETC=/etc/schoolgate
CONFIG="$ETC/schoolgate.toml"
STATE=/var/lib/schoolgate
UNIT_DIR=/etc/systemd/system
NFT_DIR=/etc/nftables.d
NFT_RULES="$NFT_DIR/schoolgate.nft"
NFT_CONF=/etc/nftables.conf
PACKAGES=(python3 python3-venv nftables)

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --python) PYTHON="$2"; shift ;;
        --pip-args) PIP_ARGS="$2"; shift ;;
        --source) SOURCE="$2"; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

cd /  # the steps run as the schoolgate user too, which may not read the caller's folder

step() { echo "==> $*"; }
done_already() { echo "    ok, already done: $*"; }
run() {
    if [ "$DRY_RUN" = 1 ]; then echo "    would run: $*"; else echo "    + $*"; "$@"; fi
}
fail() { echo "install.sh: error: $*" >&2; exit 1; }

step "check the system"
# shellcheck disable=SC1091
. /etc/os-release
case "${ID:-}:${VERSION_ID:-}" in
    debian:12|debian:13) echo "    Debian $VERSION_ID" ;;
    *) fail "schoolgate installs on Debian 12 or 13; this is ${PRETTY_NAME:-unknown}" ;;
esac
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then fail "run as root (or with --dry-run to see the steps)"; fi
[ -f "$SOURCE/pyproject.toml" ] || fail "no schoolgate source in $SOURCE (use --source DIR)"

step "system packages: ${PACKAGES[*]}"
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} = 0 ]; then done_already "installed"; else
    run apt-get install -y --no-install-recommends "${missing[@]}"
fi

step "Python 3.12 or newer ($PYTHON)"
if [ "$DRY_RUN" = 1 ] && ! command -v "$PYTHON" >/dev/null; then echo "    would use $PYTHON once installed"
elif "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    echo "    $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
else
    fail "$PYTHON is not Python 3.12 or newer (Debian 12 ships 3.11): pass --python /path/to/python3.12"
fi

step "system user $USER_NAME"
if getent passwd "$USER_NAME" >/dev/null; then done_already "user exists"; else
    run useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
fi

step "folders $ETC and $STATE"
if [ -d "$ETC" ] && [ -d "$STATE" ]; then done_already "present"; else
    run install -d -m 0750 -o root -g "$USER_NAME" "$ETC"
    run install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$STATE"
fi

step "virtual environment $VENV"
if [ -x "$VENV/bin/python" ]; then done_already "present"; else
    run install -d -m 0755 "$PREFIX"
    run "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC2086
run "$VENV/bin/pip" install --quiet --upgrade $PIP_ARGS "$SOURCE"

step "configuration $CONFIG"
if [ -e "$CONFIG" ]; then done_already "kept as it is (never overwritten)"; else
    run install -m 0640 -o root -g "$USER_NAME" "$SOURCE/deploy/templates/schoolgate.toml" "$CONFIG"
fi

step "database (create or upgrade)"
run runuser -u "$USER_NAME" -- "$VENV/bin/schoolgate" --config "$CONFIG" init

step "systemd units in $UNIT_DIR"
run "$VENV/bin/schoolgate" --config "$CONFIG" gateway systemd "$UNIT_DIR"
if [ -d /run/systemd/system ]; then run systemctl daemon-reload
else echo "    systemd is not running here (a chroot?): run systemctl daemon-reload when it is"; fi

step "nftables rules $NFT_RULES"
if [ "$DRY_RUN" = 1 ]; then
    echo "    would run: $VENV/bin/schoolgate --config $CONFIG gateway nftables > $NFT_RULES (when lan_interfaces is set)"
    echo "    would add: include \"$NFT_RULES\" to $NFT_CONF (once)"
elif rules="$("$VENV/bin/schoolgate" --config "$CONFIG" gateway nftables 2>&1)"; then
    if [ -f "$NFT_RULES" ] && [ "$(cat "$NFT_RULES")" = "$rules" ]; then done_already "rules up to date"; else
        run install -d -m 0755 "$NFT_DIR"
        printf '%s\n' "$rules" > "$NFT_RULES.new" && mv "$NFT_RULES.new" "$NFT_RULES"
        echo "    wrote $NFT_RULES"
    fi
    touch "$NFT_CONF"
    if grep -qxF "include \"$NFT_RULES\"" "$NFT_CONF"; then done_already "included from $NFT_CONF"; else
        printf 'include "%s"\n' "$NFT_RULES" >> "$NFT_CONF"
        echo "    added the include to $NFT_CONF"
    fi
else
    echo "    not yet: $rules"
    echo "    set [gateway] lan_interfaces in $CONFIG, then run install.sh again"
fi

step "done"
echo "    next: systemctl enable --now nftables schoolgate-dns schoolgate-proxy schoolgate-web schoolgate-scheduler"
