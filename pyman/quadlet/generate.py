"""Finding Quadlet files and writing the service units, as Podman's generator does.

Search dirs (the first file of a name wins): for ``--user`` $XDG_CONFIG_HOME/containers/systemd,
/etc/containers/systemd/users/$UID, /etc/containers/systemd/users; otherwise
/run/containers/systemd, /etc/containers/systemd, /usr/share/containers/systemd.
$QUADLET_UNIT_DIRS (colon-separated) replaces them. Drop-ins, ``<name>.d/*.conf`` in any of
them, add to a file as systemd's do. A file that cannot be converted is
reported and skipped, the others are still written; each unit is written whole (a temporary
file renamed into place) or not at all.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from pyman.quadlet.convert import (
    UnitInfo,
    convert_container,
    convert_volume,
    unit_info,
)
from pyman.quadlet.pod import convert_pod
from pyman.quadlet.unitfile import QuadletError, UnitFile, parse
from pyman.quadlet.words import SplitError, split

# volumes first: containers refer to them; pods last: they learn their members
ORDER = {".volume": 0, ".container": 1, ".pod": 2}
SYSTEM_DIRS = ["/run/containers/systemd", "/etc/containers/systemd",
               "/usr/share/containers/systemd"]


def search_dirs(user: bool) -> list[str]:
    env = os.environ.get("QUADLET_UNIT_DIRS")
    if env:
        return [d for d in env.split(":") if d]
    if not user:
        return list(SYSTEM_DIRS)
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config")
    return [os.path.join(config, "containers/systemd"),
            f"/etc/containers/systemd/users/{os.getuid()}", "/etc/containers/systemd/users"]


def find_files(dirs: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            path = os.path.join(d, name)
            if os.path.splitext(name)[1] in ORDER and name not in seen and os.path.isfile(path):
                seen[name] = path
    return sorted(seen.values(), key=lambda p: (ORDER[os.path.splitext(p)[1]],
                                                os.path.basename(p)))


def pyman_binary() -> str:
    """The pyman the units run: $PYMAN_BINARY, else the pyman beside this program (or the
    file it links to) or this Python (a venv's bin), else the one on PATH."""
    env = os.environ.get("PYMAN_BINARY")
    if env:
        return env
    prog = sys.argv[0] if sys.argv and sys.argv[0] else ""
    # the generator is usually a symlink: beside the link, beside its target, the venv's bin
    here = [os.path.dirname(os.path.abspath(prog)) if prog else "",
            os.path.dirname(os.path.realpath(prog)) if prog else "",
            os.path.dirname(sys.executable)]
    for d in here:
        cand = os.path.join(d, "pyman")
        if d and os.access(cand, os.X_OK) and os.path.isfile(cand):
            return cand
    return shutil.which("pyman") or "/usr/bin/pyman"


@dataclass
class Result:
    units: dict[str, UnitFile] = field(default_factory=dict)  # service file name -> unit
    errors: list[str] = field(default_factory=list)


def dropins(dirs: list[str], name: str) -> list[str]:
    """``<dir>/<name>.d/*.conf`` in every search dir, a conf name found first winning, in
    the order of their names (as systemd and Quadlet apply drop-ins)."""
    found: dict[str, str] = {}
    for d in dirs:
        try:
            names = os.listdir(os.path.join(d, name + ".d"))
        except OSError:
            continue
        for conf in names:
            path = os.path.join(d, name + ".d", conf)
            if conf.endswith(".conf") and conf not in found and os.path.isfile(path):
                found[conf] = path
    return [found[k] for k in sorted(found)]


def read_unit(path: str, dirs: list[str]) -> UnitFile:
    with open(path, encoding="utf-8") as f:
        unit = parse(f.read(), path)
    for conf in dropins(dirs, os.path.basename(path)):
        with open(conf, encoding="utf-8") as f:
            unit.merge(parse(f.read(), conf))
    return unit


def convert_all(paths: list[str], user: bool, pyman: str,
                dirs: list[str] | None = None) -> Result:
    res = Result()
    parsed: list[UnitFile] = []
    infos: dict[str, UnitInfo] = {}
    for path in paths:
        try:
            unit = read_unit(path, dirs or [os.path.dirname(path)])
        except QuadletError as exc:
            res.errors.append(str(exc))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            res.errors.append(f"{getattr(exc, 'filename', None) or path}: cannot read: {exc}")
            continue
        parsed.append(unit)
        infos[os.path.basename(path)] = unit_info(unit)
    convert: dict[str, Callable[[UnitFile, dict[str, UnitInfo], str, bool], UnitFile]] = {
        ".container": convert_container, ".volume": convert_volume}
    convert[".pod"] = convert_pod
    for unit in parsed:
        name = os.path.basename(unit.path)
        try:
            svc = convert[os.path.splitext(name)[1]](unit, infos, pyman, user)
        except QuadletError as exc:
            res.errors.append(str(exc))
            continue
        res.units[infos[name].service_file] = svc
    return res


def install_links(svc: UnitFile, service: str) -> list[tuple[str, str]]:
    """(link, target) pairs for [Install]: generated units cannot be enabled, so the
    generator makes the WantedBy=/RequiredBy= links itself, as Quadlet does."""
    links: list[tuple[str, str]] = []
    for key, suffix in (("WantedBy", ".wants"), ("RequiredBy", ".requires")):
        for e in svc.entries("Install", key):
            try:
                targets = split(e.value)
            except SplitError as exc:
                raise QuadletError.at(svc, e, f"{key}: {exc}") from None
            for target in targets:
                links.append((os.path.join(target + suffix, service), "../" + service))
    for e in svc.entries("Install", "Alias"):
        for alias in e.value.split():
            links.append((alias, service))
    return links


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def render(svc: UnitFile, generator: str) -> str:
    return f"# Automatically generated by {generator}\n#\n" + svc.text()


def write_units(res: Result, outdir: str, generator: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    for service, svc in res.units.items():
        try:
            links = install_links(svc, service)
        except QuadletError as exc:
            res.errors.append(str(exc))
            continue
        write_atomic(os.path.join(outdir, service), render(svc, generator))
        for link, target in links:
            where = os.path.join(outdir, link)
            os.makedirs(os.path.dirname(where), exist_ok=True)
            try:
                os.symlink(target, where)
            except FileExistsError:
                pass
