"""`-v/--volume`, `--mount` and `--tmpfs` as Podman 4.3 parses them, into MountSpecs.

Pure parsing (only relative host paths are made absolute against the working directory, as
Podman does): nothing is created here, so bad input leaves nothing behind. A source that
starts with ``/`` or ``.`` is a host path (a bind); anything else names a volume.
"""

from __future__ import annotations

import os

from pyman.errors import PymanError
from pyman.names import check_volume_name
from pyman.storage.mount_spec import MountSpec

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
                "runbindable")
FLAG_PAIRS = (("nosuid", "suid"), ("nodev", "dev"), ("noexec", "exec"))
VOLUME_DEFAULTS = ("nosuid", "nodev", "rbind")
TMPFS_DEFAULTS = ("rw", "rprivate", "nosuid", "nodev", "tmpcopyup")
TMPFS_KEYS = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "huge", "mpol")
MOUNT_FORMAT = ("incorrect mount format: should be --mount type=<bind|tmpfs|volume>,"
                "[src=<host-dir|volume-name>,]target=<ctr-dir>[,options]")


def _dest(path: str) -> str:
    if not path.startswith("/"):
        raise PymanError(f'invalid container path "{path}", must be an absolute path')
    return os.path.normpath(path).replace("//", "/")


def _volume_name(name: str) -> str:
    import json  # Go's %q, as Podman quotes it: the error stays one line

    return check_volume_name(name, f"creating named volume {json.dumps(name, ensure_ascii=False)}"
                                   ": running volume create option")


def is_host_path(source: str) -> bool:
    return source.startswith(("/", "."))


def _check_once(opts: list[str], group: tuple[str, ...], what: str) -> None:
    if sum(o in group for o in opts) > 1:
        raise PymanError(f'invalid options "{", ".join(opts)}", can only specify 1 {what}')


def parse_volume(spec: str) -> MountSpec:
    """``[host-dir|volume:]ctr-dir[:options]`` (options: ro, rw, z, Z, nosuid, nodev,
    noexec and their opposites, bind/rbind, a propagation, copy/nocopy)."""
    parts = spec.split(":")
    if len(parts) > 3:
        raise PymanError(f"{spec}: incorrect volume format, should be "
                         "[host-dir:]ctr-dir[:option]")
    if len(parts) == 1:
        return MountSpec("volume", _dest(parts[0]), options=list(VOLUME_DEFAULTS),
                         anonymous=True)
    src, dst = parts[0], parts[1]
    opts = [o for o in parts[2].split(",") if o] if len(parts) == 3 else []
    if not src:
        raise PymanError("host directory cannot be empty")
    dest = _dest(dst)
    _check_once(opts, ("rw", "ro"), "'rw' or 'ro' option")
    _check_once(opts, ("z", "Z", "O"), "'z', 'Z', or 'O' option")
    _check_once(opts, PROPAGATIONS, "mount propagation option")
    _check_once(opts, ("bind", "rbind"), "'bind' or 'rbind' option")
    _check_once(opts, ("copy", "nocopy"), "'copy' or 'nocopy' option")
    _check_once(opts, ("U",), "'U' option")
    for pair in FLAG_PAIRS:
        _check_once(opts, pair, f"'{pair[0]}' or '{pair[1]}' option")
    bind = is_host_path(src)
    m = MountSpec("bind" if bind else "volume", dest,
                  source=os.path.abspath(src) if bind else _volume_name(src))
    flags: list[str] = []
    recursion = "rbind"
    for o in opts:
        if o in ("rw", "ro"):
            m.rw = o == "rw"
        elif o in ("z", "Z"):
            continue  # SELinux relabelling: Podman ignores it where SELinux is off, as here
        elif o in PROPAGATIONS:
            m.propagation = o
        elif o in ("bind", "rbind"):
            recursion = o
        elif o in ("copy", "nocopy"):
            m.copy = o == "copy"
        elif any(o in pair for pair in FLAG_PAIRS):
            flags.append(o)
        elif o == "U":
            m.chown = True
        elif o in ("O", "idmap"):
            raise PymanError(f'the volume option "{o}" is not supported by pyman: '
                             f"remove it from {spec!r}")
        else:
            raise PymanError(f'invalid option type "{o}"')
    if bind:
        m.options = [*flags, recursion]
    else:
        base = [d for d in VOLUME_DEFAULTS if d != "rbind"
                and not any(d in p and f in p for p in FLAG_PAIRS for f in flags)]
        m.options = [*base, *flags, recursion]
    return m


def _bool(value: str, key: str) -> bool:
    if value.lower() in ("", "true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise PymanError(f'invalid value "{value}" for {key}: use true or false')


def parse_mount(spec: str) -> MountSpec:
    """``type=bind|volume|tmpfs,src=,dst=,ro,...`` (Docker's and Podman's --mount)."""
    kind = ""
    src: str | None = None
    dst = ""
    rw = True
    propagation = "rprivate"
    recursion = "rbind"
    flags: list[str] = []
    size = mode = ""
    copy = True
    chown = False
    for item in spec.split(","):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if key == "type":
            kind = value
        elif key in ("src", "source"):
            src = value
        elif key in ("dst", "target", "destination"):
            dst = value
        elif key in ("ro", "readonly"):
            rw = not _bool(value, key)
        elif key == "rw":
            rw = _bool(value, key)
        elif key == "bind-propagation" and value in PROPAGATIONS:
            propagation = value
        elif key == "bind-nonrecursive":
            recursion = "bind" if _bool(value, key) else "rbind"
        elif key in ("relabel", "consistency", "z", "Z") or (key == "volume-nocopy" and eq):
            if key == "volume-nocopy":
                copy = not _bool(value, key)
            continue  # relabel/consistency: SELinux and macOS notions, ignored as by Podman
        elif key == "U":
            chown = _bool(value, key)
        elif key == "tmpfs-size":
            size = value
        elif key == "tmpfs-mode":
            mode = value
        elif any(key in pair for pair in FLAG_PAIRS) and not eq:
            flags.append(key)
        elif key in ("notmpcopyup", "tmpcopyup") and not eq:
            flags.append(key)
        else:
            raise PymanError(f"{key}: invalid mount option")
    if not kind:
        raise PymanError(MOUNT_FORMAT)
    if kind not in ("bind", "volume", "tmpfs"):
        raise PymanError(f'invalid filesystem type "{kind}"')
    if not dst:
        raise PymanError("must set volume destination")
    dest = _dest(dst)
    if kind == "tmpfs":
        if src:
            raise PymanError("source is not supported with tmpfs mounts")
        opts = ([f"size={size}"] if size else []) + ([f"mode={mode}"] if mode else [])
        opts += flags + ([] if rw else ["ro"])
        return MountSpec("tmpfs", dest, source="tmpfs", options=tmpfs_options(opts), rw=rw)
    if kind == "bind":
        if not src:
            raise PymanError(f"--mount {spec}: a bind mount needs a source (src=<host-dir>)")
        return MountSpec("bind", dest, source=os.path.abspath(src), options=[*flags, recursion],
                         rw=rw, propagation=propagation, chown=chown)
    base = [d for d in VOLUME_DEFAULTS if d != "rbind"
            and not any(d in p and f in p for p in FLAG_PAIRS for f in flags)]
    if not src:
        return MountSpec("volume", dest, options=[*base, *flags, recursion], rw=rw,
                         anonymous=True, copy=copy, chown=chown)
    return MountSpec("volume", dest, source=_volume_name(src),
                     options=[*base, *flags, recursion], rw=rw, copy=copy, chown=chown)


def tmpfs_options(opts: list[str]) -> list[str]:
    """The user's options, then Podman's defaults for what they left unsaid."""
    out = list(opts)
    for o in opts:
        key = o.split("=", 1)[0]
        ok = (key in TMPFS_KEYS and "=" in o) or o in ("rw", "ro", "notmpcopyup", "tmpcopyup",
                                                      "rprivate", "private", "shared", "rshared",
                                                      "slave", "rslave") \
            or any(o in pair for pair in FLAG_PAIRS)
        if not ok:
            raise PymanError(f'unknown mount option "{o}": invalid mount option')
    _check_once(out, ("rw", "ro"), "'rw' or 'ro' option")
    for d in TMPFS_DEFAULTS:
        clash = {"rw": ("ro",), "tmpcopyup": ("notmpcopyup",), "nosuid": ("suid",),
                 "nodev": ("dev",), "rprivate": PROPAGATIONS}.get(d, ())
        if d not in out and not any(c in out for c in clash):
            out.append(d)
    if "notmpcopyup" in out:
        out.remove("notmpcopyup")  # the default is copying up; runc knows only tmpcopyup
    return out


def parse_tmpfs(spec: str) -> MountSpec:
    dst, _, opts = spec.partition(":")
    options = tmpfs_options([o for o in opts.split(",") if o])
    return MountSpec("tmpfs", _dest(dst), source="tmpfs", options=options,
                     rw="ro" not in options)


def parse_all(volumes: list[str], mounts: list[str], tmpfs: list[str]) -> list[MountSpec]:
    """Every mount the user asked for; one destination once (an identical repeat is fine)."""
    specs = [parse_volume(v) for v in volumes] + [parse_mount(m) for m in mounts] + \
        [parse_tmpfs(t) for t in tmpfs]
    out: list[MountSpec] = []
    for m in specs:
        same = [o for o in out if o.destination == m.destination]
        if same and not (same[0] == m and not m.anonymous):
            raise PymanError(f"{m.destination}: duplicate mount destination")
        if not same:
            out.append(m)
    return out
