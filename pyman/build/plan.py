"""The stage plan: ARGs before the first FROM, stages and their names, which stages a target
needs (through FROM <stage>, COPY --from and RUN --mount from=), build-arg scopes."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from pyman.build.parser import Containerfile, Instruction, expand, key_values
from pyman.errors import ParseError, PymanError

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}


def host_platform() -> tuple[str, str, str]:
    """(os, arch, variant) of this machine, in Go's words."""
    arch = _ARCH.get(platform.machine(), platform.machine())
    return "linux", arch, "v7" if arch == "arm" else ""


def predefined_args() -> dict[str, str]:
    """TARGETARCH and friends: the host's platform (other platforms are refused)."""
    os_, arch, variant = host_platform()
    plat = f"{os_}/{arch}" + (f"/{variant}" if variant else "")
    vals = {"PLATFORM": plat, "OS": os_, "ARCH": arch, "VARIANT": variant}
    out = {}
    for prefix in ("TARGET", "BUILD"):
        for k, v in vals.items():
            out[prefix + k] = v
    return out


PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class Stage:
    index: int
    name: str | None  # AS name (lower case)
    base: str  # FROM's image, args expanded (may name an earlier stage)
    from_line: Instruction
    steps: list[Instruction] = field(default_factory=list)
    deps: set[int] = field(default_factory=set)  # stages this one needs first

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass
class Plan:
    stages: list[Stage]
    global_args: dict[str, str]  # ARGs before the first FROM, with --build-arg applied
    needed: list[int]  # the stages to build, in order (the target's last)
    unused_args: set[str]


def make_plan(cf: Containerfile, build_args: dict[str, str], target: str | None) -> Plan:
    name = cf.name
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for inst in cf.instructions:
        where = f"{name}:{inst.line}"
        if inst.cmd == "FROM":
            env = {**predefined_args(), **global_args}
            words = inst.rest.split()
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
                raise ParseError(f"{where}: FROM takes an image and an optional AS name: "
                                 f"FROM image [AS name], not {inst.rest!r}")
            missing = [v for v in _names_used(words[0]) if v not in env]
            if missing:
                raise ParseError(f"{where}: FROM {words[0]} uses the build argument "
                                 f"{missing[0]}, which has no value: declare it with ARG "
                                 f"{missing[0]}=default before FROM, or pass --build-arg "
                                 f"{missing[0]}=value")
            base = expand(words[0], env, cf.escape)
            if not base:
                raise ParseError(f"{where}: FROM {words[0]} expands to an empty image name")
            plat = inst.flag("platform")
            if plat:
                check_platform(expand(plat, env), where)
            stage_name = words[2].lower() if len(words) == 3 else None
            if stage_name and any(s.name == stage_name for s in stages):
                raise ParseError(f"{where}: the stage name {stage_name!r} is used twice")
            stages.append(Stage(len(stages), stage_name, base, inst))
        elif not stages:
            if inst.cmd != "ARG":
                raise ParseError(f"{where}: {inst.cmd} before the first FROM: only ARG may "
                                 "come before FROM")
            for k, v in key_values(inst.rest, {**predefined_args(), **global_args}, "ARG",
                                   cf.escape):
                global_args[k] = build_args[k] if k in build_args else ("" if v == "\0" else v)
        else:
            stages[-1].steps.append(inst)
    if not stages:
        raise PymanError("determining starting point for build: no FROM statement found")
    by_name: dict[str, Stage] = {s.name: s for s in stages if s.name}
    for s in stages:
        try:
            ref = stage_ref(s.base, s.index, by_name)
        except PymanError as exc:
            raise ParseError(f"{name}:{s.from_line.line}: {exc}") from None
        if ref is not None:
            s.deps.add(ref)
        for inst in s.steps:
            src = inst.flag("from") if inst.cmd == "COPY" else None
            mounts = inst.flags.get("mount", []) if inst.cmd == "RUN" else []
            refs = [src] if src else []
            refs += [p.split("=", 1)[1] for m in mounts for p in m.split(",")
                     if p.startswith("from=")]
            for r in refs:
                try:
                    hit = stage_ref(expand(r, global_args), s.index, by_name)
                except PymanError as exc:
                    raise ParseError(f"{name}:{inst.line}: {exc}") from None
                if hit is not None:
                    s.deps.add(hit)
                elif r.isdigit():
                    raise ParseError(f"{name}:{inst.line}: {inst.cmd} --from={r}: there is no "
                                     f"earlier stage {r} (stages count from 0, and only "
                                     "earlier ones can be named)")
    last = len(stages) - 1
    if target is not None:
        chosen = by_name.get(target.lower())
        if chosen is None:
            raise PymanError(f"the target {target!r} is not a stage of {name} (stages: "
                             f"{', '.join(s.name for s in stages if s.name) or 'none named'})")
        last = chosen.index
    needed: set[int] = set()
    todo = [last]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        todo.extend(stages[i].deps)
    used = {k for s in stages for inst in s.steps if inst.cmd == "ARG"
            for k, _ in _arg_names(inst)} | set(global_args)
    return Plan(stages, global_args, sorted(needed), set(build_args) - used)


def _arg_names(inst: Instruction) -> list[tuple[str, str]]:
    return [(w.split("=", 1)[0], "") for w in inst.rest.split()]


def _names_used(text: str) -> list[str]:
    import re

    return [m.group(1) or m.group(2) for m in re.finditer(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_]*:)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        text)]


def stage_ref(ref: str, current: int, by_name: dict[str, Stage]) -> int | None:
    """The index of the earlier stage ``ref`` names, or None (then it is an image)."""
    hit = by_name.get(ref.lower())
    if hit is not None:
        if hit.index >= current:
            raise PymanError(f"stage {ref!r} refers to itself or a later stage: a cycle in "
                             "FROM/--from (a stage can use only the stages before it)")
        return hit.index
    if ref.isdigit() and int(ref) < current:
        return int(ref)
    return None


def check_platform(plat: str, where: str = "--platform") -> None:
    os_, arch, variant = host_platform()
    parts = plat.split("/")
    ok = parts[0] == os_ and (len(parts) < 2 or parts[1] == arch) and \
        (len(parts) < 3 or parts[2] == variant)
    if not ok:
        raise PymanError(f"{where}: building for platform {plat} is not supported: pyman "
                         f"builds for this host's platform only ({os_}/{arch}"
                         f"{'/' + variant if variant else ''}), it runs no emulator")
