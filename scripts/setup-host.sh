#!/bin/bash
# Prepare this machine as pyman's test ground. Run as root; idempotent; a rerun takes seconds.
#
#  - Debian packages: runtimes (runc, crun), uidmap, fuse-overlayfs, slirp4netns, passt,
#    netavark + aardvark-dns (user-defined networks, Debian 12: 1.4.0), docker-registry, busybox-static, catatonit (--init, pod infra), podman + skopeo (the
#    reference), python3-venv, docker.io and docker-compose (clients of the API service),
#    debootstrap
#  - /dev/net/tun and /dev/fuse mode 0666, as distributions ship them
#  - the unprivileged user pymanci with a 65536 sub-uid/sub-gid range
#  - a loopback registry on 127.0.0.1:5000 (Debian's docker-registry) holding the test images
#    (tests/images/build_images.py), and a registries.conf drop-in that makes it the mirror of
#    docker.io, so `pyman run alpine` works on this air-gapped host
#  - pyman installed for pymanci from this checkout: /home/pymanci/.local/pyman-venv, with
#    /home/pymanci/.local/bin/pyman
#
# Environment: PYMAN_CI_USER (default pymanci), PYMAN_SKIP_INSTALL=1 to leave the venv alone.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CI_USER=${PYMAN_CI_USER:-pymanci}
CI_HOME=/home/$CI_USER
GROUND=/var/lib/pyman-testground
REGISTRY=127.0.0.1:5000
VENV=$CI_HOME/.local/pyman-venv
SRC=$CI_HOME/pyman-src
PY=/usr/bin/python3
PACKAGES=(runc crun uidmap fuse-overlayfs slirp4netns passt docker-registry busybox-static
          podman skopeo python3-venv git catatonit
          netavark aardvark-dns  # user-defined networks (pyman network, run --network NAME)
          fish   # fish: tests/e2e/test_completion.py
          sudo   # sudo: the CI user plays a second local user, the neighbour (below)
          docker.io  # its client only (no daemon is started): tests of pyman's API service
          docker-compose  # compose over pyman's API service (tests/e2e/test_compose.py)
          debootstrap)  # tests/e2e/test_build_debian.py: a Debian base with gcc, built rootless

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }
as_user() {
    runuser -u "$CI_USER" -- env -i HOME="$CI_HOME" USER="$CI_USER" LOGNAME="$CI_USER" \
        LANG=C.UTF-8 PATH="$CI_HOME/.local/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" "$@"
}

[ "$(id -u)" = 0 ] || die "run me as root (sudo bash scripts/setup-host.sh)"
if [ -z "${PYMAN_SETUP_LOCKED:-}" ]; then  # one set-up at a time; the lock stays out of children
    mkdir -p "$GROUND"
    PYMAN_SETUP_LOCKED=1 exec flock -o "$GROUND/setup.lock" bash "${BASH_SOURCE[0]}" "$@"
fi
start_time=$SECONDS

# ------------------------------------------------------------------ packages
missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || apt-get install -y "${missing[@]}"
    # Debian starts the registry's own service on :5000 (all addresses) where systemd runs:
    # ours listens on loopback only, with its own storage.
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
    fi
else
    say "packages present"
fi

# ------------------------------------------------------------------ devices
if [ ! -e /dev/net/tun ]; then
    mkdir -p /dev/net
    mknod /dev/net/tun c 10 200
fi
[ -e /dev/fuse ] || mknod /dev/fuse c 10 229
chmod 0666 /dev/net/tun /dev/fuse

# ------------------------------------------------------------------ the CI user and sub-ids
if ! id "$CI_USER" >/dev/null 2>&1; then
    say "creating user $CI_USER"
    useradd --create-home --home-dir "$CI_HOME" --shell /bin/bash "$CI_USER"
fi
CI_UID=$(id -u "$CI_USER")
add_subids() {  # file: append "user:start:65536" after every existing range, unless present
    local file=$1
    touch "$file"
    if grep -q -E "^($CI_USER|$CI_UID):" "$file"; then
        return
    fi
    local start
    start=$(awk -F: 'BEGIN { m = 100000 } NF >= 3 && $2 + $3 > m { m = $2 + $3 }
                     END { print m }' "$file")
    # round up to a multiple of 65536 above 100000, as useradd lays them out
    start=$(( start <= 100000 ? 100000 : ((start - 100000 + 65535) / 65536) * 65536 + 100000 ))
    if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then echo >> "$file"; fi
    echo "$CI_USER:$start:65536" >> "$file"
    say "$file: $CI_USER:$start:65536"
}
add_subids /etc/subuid
add_subids /etc/subgid
for tool in /usr/bin/newuidmap /usr/bin/newgidmap; do
    if [ ! -u "$tool" ] && ! getcap "$tool" 2>/dev/null | grep -q cap_set; then
        chmod u+s "$tool"
    fi
done

# ------------------------------------------------------------------ the neighbour
# Security tests need a second local user who tries to reach into the CI user's store. The CI
# user may become that user (never root) through sudo, without a password: tests run
# `sudo -n -u pymannb -- CMD` (tests/conftest.py's `neighbour` fixture).
NEIGHBOUR=${PYMAN_NEIGHBOUR_USER:-pymannb}
if ! id "$NEIGHBOUR" >/dev/null 2>&1; then
    say "creating the neighbour user $NEIGHBOUR"
    useradd --create-home --home-dir "/home/$NEIGHBOUR" --shell /bin/bash "$NEIGHBOUR"
fi
sudoers=/etc/sudoers.d/pyman-neighbour-$CI_USER
printf '%s ALL=(%s) NOPASSWD: ALL\n' "$CI_USER" "$NEIGHBOUR" > "$sudoers.new"
chmod 0440 "$sudoers.new"
visudo -cqf "$sudoers.new" || die "visudo refused $sudoers.new"
mv "$sudoers.new" "$sudoers"

# ------------------------------------------------------------------ loopback registry
mkdir -p "$GROUND/registry" "$GROUND/oci"
chmod 0755 "$GROUND"
cat > "$GROUND/registry.yml.new" <<EOF
# pyman test ground: Debian's docker-registry on loopback (scripts/setup-host.sh)
version: 0.1
log:
  level: warn
  fields:
    service: pyman-testground-registry
storage:
  filesystem:
    rootdirectory: $GROUND/registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $REGISTRY
  headers:
    X-Content-Type-Options: [nosniff]
EOF
mv "$GROUND/registry.yml.new" "$GROUND/registry.yml"

registry_up() {
    "$PY" - "$REGISTRY" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}/v2/", timeout=2) as r:
        ok = r.status == 200 and r.headers.get("Docker-Distribution-API-Version")
except OSError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}
if registry_up; then
    say "registry answering on $REGISTRY"
else
    say "starting docker-registry on $REGISTRY (log $GROUND/registry.log)"
    if [ -f "$GROUND/registry.pid" ]; then
        old=$(cat "$GROUND/registry.pid")
        if [ -n "$old" ] && grep -q docker-registry "/proc/$old/cmdline" 2>/dev/null; then
            kill "$old" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    (   # a daemon of its own: new session, and no descriptor (lock, caller's pipe) inherited
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
        done
        exec setsid /usr/bin/docker-registry serve "$GROUND/registry.yml" \
            >>"$GROUND/registry.log" 2>&1 </dev/null
    ) &
    echo $! > "$GROUND/registry.pid"
    for _ in $(seq 1 100); do
        registry_up && break
        sleep 0.1
    done
    registry_up || die "docker-registry did not come up on $REGISTRY: see $GROUND/registry.log"
fi

# ------------------------------------------------------------------ the CI user's cache
# Things the tests make once and keep between runs (test_build_debian.py's debootstrapped
# base image tarball): writable by the CI user only.
install -d -m 0755 -o "$CI_USER" -g "$CI_USER" "$GROUND/cache-$CI_USER"

# ------------------------------------------------------------------ test images
say "test images (tests/images/build_images.py)"
"$PY" "$REPO/tests/images/build_images.py" --out "$GROUND/oci" --push "$REGISTRY" \
    --manifest "$GROUND/images.json" | sed 's/^/    /'
chmod 0644 "$GROUND"/images*.json

# ------------------------------------------------------------------ registries.conf drop-in
mkdir -p /etc/containers/registries.conf.d
cat > /etc/containers/registries.conf.d/50-pyman-loopback-mirror.conf.new <<EOF
# Written by pyman's scripts/setup-host.sh. docker.io is unreachable from this host (no
# internet): a loopback registry seeded with test images stands in as its mirror, the way
# air-gapped hosts work. Remove this file to undo.
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "$REGISTRY"
insecure = true

[[registry]]
location = "$REGISTRY"
insecure = true
EOF
mv /etc/containers/registries.conf.d/50-pyman-loopback-mirror.conf.new \
   /etc/containers/registries.conf.d/50-pyman-loopback-mirror.conf
cat <<EOF
==> NOTE: docker.io is unreachable from this host (no internet), so a loopback mirror was
    seeded: $REGISTRY serves docker.io/library/alpine and docker.io/library/busybox (built
    from busybox-static) plus $REGISTRY/pyman-test/*, and
    /etc/containers/registries.conf.d/50-pyman-loopback-mirror.conf points docker.io at it.
EOF

# ------------------------------------------------------------------ the reference podman's runtime
# crun (podman's default) refuses hybrid cgroups, a v1 tree with a cgroup2 hierarchy that still
# holds a controller ("cgroups in hybrid mode not supported"); runc runs rootless there.
RUNTIME_CONF=/etc/containers/containers.conf.d/50-pyman-testground-runtime.conf
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] && [ -r "$unified" ] \
        && [ -n "$(tr -d ' \n' < "$unified")" ]; then
    mkdir -p /etc/containers/containers.conf.d
    cat > "$RUNTIME_CONF" <<EOF
# Written by pyman's scripts/setup-host.sh: this host has hybrid cgroups (v1 controllers plus
# a cgroup2 hierarchy holding: $(tr -d '\n' < "$unified")), which crun refuses. runc works.
[engine]
runtime = "runc"
EOF
    say "hybrid cgroups: podman set to use runc ($RUNTIME_CONF)"
else
    rm -f "$RUNTIME_CONF"
fi

# ------------------------------------------------------------------ the reference podman's driver
# Without a storage.conf (Debian ships none) podman 4.3 picked vfs here, which copies every layer
# and every container: benchmarks against it flatter pyman. Podman users on Debian, Fedora and
# Ubuntu get overlay (kernel overlay in a user namespace, kernel >= 5.13): the CI user's podman
# gets it too. A store podman already made on vfs is reset first (its images are test copies).
user_storage=$CI_HOME/.config/containers/storage.conf
if [ ! -e "$user_storage" ]; then
    if [ -d "$CI_HOME/.local/share/containers/storage/vfs" ]; then
        say "resetting $CI_USER's podman store (it was made on vfs)"
        as_user podman system reset -f >/dev/null 2>&1 || true
    fi
    as_user mkdir -p "$CI_HOME/.config/containers"
    as_user sh -c "printf '%s\n' '# scripts/setup-host.sh: the reference podman on overlay, as its users have it' \
        '[storage]' 'driver = \"overlay\"' > '$user_storage'"
    say "$CI_USER's podman uses the overlay driver ($user_storage)"
fi

# ------------------------------------------------------------------ pyman for the CI user
if [ "${PYMAN_SKIP_INSTALL:-}" = 1 ]; then
    say "PYMAN_SKIP_INSTALL=1: leaving $VENV alone"
else
    listing=$(mktemp)
    trap 'rm -f "$listing"' EXIT
    if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
        # tracked and new (not ignored) files: a fresh clone and a working tree alike
        git -C "$REPO" -c safe.directory='*' ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' p; do
                if [ -f "$REPO/$p" ] || [ -L "$REPO/$p" ]; then printf '%s\0' "$p"; fi
              done | sort -z -u > "$listing"
    else
        (cd "$REPO" && find . -path ./.git -prune -o \( -name __pycache__ -o -name '.*_cache' \) \
            -prune -o \( -type f -o -type l \) -printf '%P\0' | sort -z) > "$listing"
    fi
    stamp=$(cd "$REPO" && tar --null -T "$listing" --sort=name --mtime=@0 --owner=0 --group=0 \
        --numeric-owner -cf - | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/pyman" ] && [ "$(cat "$VENV/.pyman-src-stamp" 2>/dev/null)" = "$stamp" ]
    then
        say "pyman for $CI_USER is current ($SRC)"
    else
        say "copying $REPO to $SRC"
        rm -rf "$SRC.new"
        mkdir -p "$SRC.new"
        (cd "$REPO" && tar --null -T "$listing" -cf -) | tar -C "$SRC.new" -xf -
        chown -R "$CI_USER:$CI_USER" "$SRC.new"
        rm -rf "$SRC"
        mv "$SRC.new" "$SRC"
        install -d -o "$CI_USER" -g "$CI_USER" "$CI_HOME/.local" "$CI_HOME/.local/bin"
        if [ ! -x "$VENV/bin/python3" ] || ! as_user "$VENV/bin/python3" -c pass 2>/dev/null
        then
            say "creating $VENV with $PY"
            rm -rf "$VENV"
            as_user "$PY" -m venv "$VENV"
            as_user "$VENV/bin/pip" install -q --upgrade pip setuptools wheel \
                || die "pip cannot reach the package index as $CI_USER; compare
    \`pip config list\` as root with \`runuser -u $CI_USER -- /usr/bin/python3 -m pip config list\`"
        fi
        say "installing pyman[test] into $VENV as $CI_USER"
        piplog=$(mktemp)
        if ! as_user "$VENV/bin/pip" install -q --no-build-isolation "$SRC[test]" \
                >"$piplog" 2>&1; then
            cat "$piplog" >&2
            rm -f "$piplog"
            die "pip install of $SRC[test] as $CI_USER failed"
        fi
        rm -f "$piplog"
        echo "$stamp" > "$VENV/.pyman-src-stamp"
        chown "$CI_USER:$CI_USER" "$VENV/.pyman-src-stamp"
    fi
    as_user ln -sfn "$VENV/bin/pyman" "$CI_HOME/.local/bin/pyman"
fi

say "test ground ready in $((SECONDS - start_time)) s: user $CI_USER, registry $REGISTRY," \
    "images $GROUND/images.json"
