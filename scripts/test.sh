#!/bin/bash
# The whole suite, as CI runs it (.ci/run): run as root on a fresh clone.
#   1. scripts/setup-host.sh: packages, the user pymanci, the loopback registry and test
#      images, and pyman installed for pymanci from this checkout
#   2. as pymanci, from its copy of the source (~pymanci/pyman-src) with its venv:
#      ruff check, mypy pyman, pytest -q -x --durations=15 tests
# Extra arguments go to pytest (e.g. `sudo bash scripts/test.sh tests/unit -k subid`).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CI_USER=${PYMAN_CI_USER:-pymanci}
CI_HOME=/home/$CI_USER
VENV=$CI_HOME/.local/pyman-venv
SRC=$CI_HOME/pyman-src

[ "$(id -u)" = 0 ] || { echo "test.sh: run me as root (sudo bash scripts/test.sh)" >&2; exit 2; }

# One run at a time: runs share the CI user, its venv and its copy of the source. flock -o
# keeps the lock out of the processes the suite starts (a leftover container must not hold it).
if [ -z "${PYMAN_TEST_LOCKED:-}" ]; then
    mkdir -p /var/lib/pyman-testground
    lock=/var/lib/pyman-testground/test.lock
    if ! flock -n "$lock" true; then
        echo "==> waiting for another scripts/test.sh run to finish ($lock)"
    fi
    PYMAN_TEST_LOCKED=1 exec flock -o "$lock" bash "${BASH_SOURCE[0]}" "$@"
fi

bash "$REPO/scripts/setup-host.sh" || { echo "test.sh: setup-host.sh failed" >&2; exit 1; }

as_user() {
    # a clean login-less environment, like su/cron/CI: no XDG_RUNTIME_DIR
    runuser -u "$CI_USER" -- env -i HOME="$CI_HOME" USER="$CI_USER" LOGNAME="$CI_USER" \
        LANG=C.UTF-8 PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
        bash -c 'cd "$0" && exec "$@"' "$SRC" "$@"
}

failed=()
step() {
    local name=$1; shift
    local t0=$SECONDS
    echo "==> $name"
    if as_user "$@"; then
        echo "==> $name: ok ($((SECONDS - t0)) s)"
    else
        echo "==> $name: FAILED ($((SECONDS - t0)) s)"
        failed+=("$name")
    fi
}

# pytest's tmp dirs fill with stores whose files belong to sub-ids, which pytest cannot remove:
# a private base dir per run, removed afterwards from inside a fully mapped user namespace.
basetemp=$(as_user mktemp -d /tmp/pyman-pytest.XXXXXX)
cleanup() {
    as_user unshare --map-auto --map-root-user rm -rf "$basetemp" >/dev/null 2>&1 \
        || rm -rf "$basetemp"
}
trap cleanup EXIT

step "ruff check" ruff check .
step "mypy pyman" mypy pyman
[ $# -gt 0 ] || set -- tests
step "pytest" pytest -q -x --durations=15 -p no:cacheprovider --basetemp="$basetemp" "$@"

if [ ${#failed[@]} -gt 0 ]; then
    echo "==> FAILED: ${failed[*]}"
    exit 1
fi
echo "==> all checks passed"
