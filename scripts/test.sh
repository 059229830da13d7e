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

# Stores left by earlier runs hold files owned by sub-ids that pytest cannot remove itself.
as_user unshare --map-auto --map-root-user rm -rf "/tmp/pytest-of-$CI_USER" >/dev/null 2>&1 || true

step "ruff check" ruff check .
step "mypy pyman" mypy pyman
if [ $# -gt 0 ]; then
    step "pytest" pytest -q -x --durations=15 -p no:cacheprovider "$@"
else
    step "pytest" pytest -q -x --durations=15 -p no:cacheprovider tests
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "==> FAILED: ${failed[*]}"
    exit 1
fi
echo "==> all checks passed"
