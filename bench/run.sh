#!/bin/bash
# Run one benchmark as the unprivileged CI user in a login-like environment, as Podman users
# run both tools: XDG_RUNTIME_DIR=/run/user/<uid> (made here, 0700, as systemd-logind would),
# HOME, USER, the venv's pyman first on PATH. Run as root:
#   sudo bash bench/run.sh run_true.py [--runs 20]     (BENCH.py and its arguments)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
user=${PYMAN_CI_USER:-pymanci}
home=/home/$user
venv=$home/.local/pyman-venv
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run me as root" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: bench/run.sh BENCH.py [ARGS...]" >&2; exit 2; }
bench=$1; shift
uid=$(id -u "$user")
# made for this run and removed after it, unless a login session made it: without a runtime
# dir podman would keep using one found at /run/user/<uid> (the tests expect its fallback)
made_run_dir=
if [ ! -d "/run/user/$uid" ]; then
    install -d -m 0700 -o "$user" -g "$user" "/run/user/$uid"
    made_run_dir=1
fi
copy=$(mktemp -d /tmp/pyman-bench-src.XXXXXX)
cleanup() {
    rm -rf "$copy"
    if [ -n "$made_run_dir" ]; then
        rm -rf "/run/user/$uid"
    fi
}
trap cleanup EXIT
cp "$here"/*.py "$copy/"
chmod -R a+rX "$copy"
cd /
runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" LANG=C.UTF-8 \
    XDG_RUNTIME_DIR="/run/user/$uid" \
    PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    "$venv/bin/python3" "$copy/$bench" "$@"
