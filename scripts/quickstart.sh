#!/bin/bash
# README command 1, as root on a fresh machine: set the host up (scripts/setup-host.sh), then
# run `pyman run alpine echo hi` as the unprivileged user pymanci, in the clean environment
# su/CI gives (HOME, USER, PATH; no XDG_RUNTIME_DIR, so pyman uses its fallback).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CI_USER=${PYMAN_CI_USER:-pymanci}
CI_HOME=/home/$CI_USER

[ "$(id -u)" = 0 ] || { echo "quickstart.sh: run me as root (sudo bash scripts/quickstart.sh)" >&2; exit 2; }

bash "$REPO/scripts/setup-host.sh"

echo "==> as $CI_USER: pyman run alpine echo hi"
cd /
exec runuser -u "$CI_USER" -- env -i HOME="$CI_HOME" USER="$CI_USER" LOGNAME="$CI_USER" \
    PATH="$CI_HOME/.local/bin:/usr/local/bin:/usr/bin:/bin" \
    "$CI_HOME/.local/bin/pyman" run alpine echo hi
