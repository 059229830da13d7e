"""Quadlet files to service units: the keys pyman supports, mapped to pyman's options.

Each ``convert_*`` takes a parsed file and returns the service unit: the file itself with
its own section renamed ``X-<Section>`` (systemd ignores X- sections), [Unit], [Service] and
[Install] passed through, and what runs pyman added, in the shape Podman's Quadlet writes
(its 4.x output, with pyman in place of podman). A key pyman cannot honour is an error that
names the file and line, never silently dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from pyman.names import NAME_RULE, valid_name
from pyman.quadlet.unitfile import Entry, QuadletError, UnitFile
from pyman.quadlet.words import SplitError, quote_cmdline, split

CONTAINER_KEYS = frozenset({
    "AddCapability", "AddHost", "ContainerName", "DropCapability", "Entrypoint",
    "Environment", "EnvironmentFile", "Exec", "GlobalArgs", "Group", "HostName", "Image",
    "Label", "Mask", "Memory", "Mount", "Network", "NoNewPrivileges", "Notify", "PidsLimit",
    "Pod", "PodmanArgs", "PublishPort", "Pull", "ReadOnly", "ReadOnlyTmpfs", "RunInit",
    "SeccompProfile", "StopSignal", "StopTimeout", "Tmpfs", "Ulimit", "Unmask", "User",
    "UserNS", "Volume", "WorkingDir",
})
VOLUME_KEYS = frozenset({"Copy", "Device", "GlobalArgs", "Group", "Label", "Options",
                         "PodmanArgs", "Type", "User", "VolumeName"})
POD_KEYS = frozenset({"GlobalArgs", "HostName", "Label", "Network", "PodName", "PodmanArgs",
                      "PublishPort"})
GROUPS = {".container": ("Container", CONTAINER_KEYS), ".volume": ("Volume", VOLUME_KEYS),
          ".pod": ("Pod", POD_KEYS)}
NAME_KEYS = {"Container": "ContainerName", "Volume": "VolumeName", "Pod": "PodName"}
PASSTHROUGH = frozenset({"Unit", "Service", "Install"})
NETWORK_MODES = ("slirp4netns", "pasta", "none", "host", "private", "container", "ns")
CIDFILE = "--cidfile=%t/%N.cid"


@dataclass
class UnitInfo:
    """What other files need to know about one: its service and the name it creates."""

    service: str  # the service unit's name, without .service
    resource: str  # the container, volume or pod name
    start_with: list[str] = field(default_factory=list)  # a pod's members' services

    @property
    def service_file(self) -> str:
        return self.service + ".service"


def base_name(filename: str) -> str:
    return filename.rsplit(".", 1)[0]


def unit_info(unit: UnitFile) -> UnitInfo:
    filename = os.path.basename(unit.path)
    base, ext = base_name(filename), os.path.splitext(filename)[1]
    if ext == ".container":
        name = unit.lookup("Container", "ContainerName") or "systemd-%N"
        return UnitInfo(base, name.replace("%N", base))
    if ext == ".volume":
        return UnitInfo(base + "-volume", unit.lookup("Volume", "VolumeName")
                        or "systemd-" + base)
    return UnitInfo(base + "-pod", unit.lookup("Pod", "PodName") or "systemd-" + base)


def check(unit: UnitFile, group: str, keys: frozenset[str]) -> None:
    """Only [<group>], [Unit], [Service], [Install] and X- sections; only known keys."""
    for s in unit.sections:
        if s.name in PASSTHROUGH or s.name.startswith("X-"):
            continue
        if s.name != group:
            raise QuadletError.at(unit, s, f"unsupported section [{s.name}] "
                               f"(a {os.path.splitext(unit.path)[1]} file takes [{group}], "
                               "[Unit], [Service] and [Install])")
        for e in s.entries:
            if e.key is not None and e.key not in keys:
                raise QuadletError.at(unit, e, f"unsupported key {e.key} in [{group}]")
    name = unit.last(group, NAME_KEYS[group])
    # systemd expands specifiers (%N, %i ...) later: the rest must already follow the rule
    if name is not None and not valid_name(re.sub("%[A-Za-z]", "x", name.value)):
        raise QuadletError.at(unit, name, f"invalid {name.key} {name.value!r}: {NAME_RULE}")


def words(unit: UnitFile, e: Entry) -> list[str]:
    try:
        return split(e.value)
    except SplitError as exc:
        raise QuadletError.at(unit, e, f"{e.key}: {exc}") from None


def all_words(unit: UnitFile, group: str, key: str) -> list[str]:
    return [w for e in unit.entries(group, key) for w in words(unit, e)]


def key_values(unit: UnitFile, group: str, key: str) -> list[str]:
    """Environment=/Label= values: words of KEY=VALUE, the last value of a key winning,
    sorted by key (Quadlet's order)."""
    found: dict[str, str] = {}
    for e in unit.entries(group, key):
        for w in words(unit, e):
            k, eq, v = w.partition("=")
            if not eq or not k:
                raise QuadletError.at(unit, e, f"{key}: {w!r} is not KEY=VALUE")
            found[k] = v
    return [f"{k}={found[k]}" for k in sorted(found)]


def absolute(unit: UnitFile, path: str) -> str:
    """A relative path is relative to the file's directory (a specifier is left alone)."""
    if path.startswith("/") or (path.startswith("%") and not path.startswith("%%")):
        return path
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(unit.path)), path))


DEPENDENCY_KEYS = frozenset({
    "After", "Before", "BindsTo", "Conflicts", "OnFailure", "OnSuccess", "PartOf",
    "PropagatesReloadTo", "PropagatesStopTo", "ReloadPropagatedFrom", "Requires", "Requisite",
    "StopPropagatedFrom", "Upholds", "Wants"})


def translate_dependencies(unit: UnitFile, svc: UnitFile, infos: dict[str, UnitInfo]) -> None:
    """[Unit] After=db.container and the like name the generated service (Podman 5's rule):
    the names a Quadlet file's unit gets are not the file's."""
    section = svc.section("Unit")
    for e in section.entries if section else []:
        if e.key not in DEPENDENCY_KEYS:
            continue
        deps = e.value.split()
        if not any(os.path.splitext(d)[1] in GROUPS for d in deps):
            continue
        out = []
        for dep in deps:
            if os.path.splitext(dep)[1] in GROUPS:
                info = infos.get(dep)
                if info is None:
                    raise QuadletError.at(unit, e, f"unable to translate dependency for "
                                          f"{dep} (no such Quadlet file)")
                dep = info.service_file
            out.append(dep)
        e.value = " ".join(out)


def init_service(unit: UnitFile, group: str, is_user: bool, network_deps: bool,
                 infos: dict[str, UnitInfo] | None = None) -> UnitFile:
    svc = UnitFile(path=unit.path, header=list(unit.header),
                   sections=[type(s)(s.name, s.line,
                                     [Entry(e.key, e.value, e.line, e.path) for e in s.entries],
                                     s.path)
                             for s in unit.sections])
    translate_dependencies(unit, svc, infos or {})
    if network_deps and not is_user:
        # the pull and the network helper want a network; a user manager has no such target
        unit_sec = svc._ensure("Unit")
        unit_sec.entries[0:0] = [Entry("Wants", "network-online.target"),
                                 Entry("After", "network-online.target")]
    svc.add("Unit", "SourcePath", os.path.abspath(unit.path))
    svc.add("Unit", "RequiresMountsFor", "%t/containers")
    svc.rename(group, "X-" + group)
    return svc


def storage_source(unit: UnitFile, svc: UnitFile, e: Entry, source: str,
                   infos: dict[str, UnitInfo]) -> str:
    """A host path (made absolute, RequiresMountsFor) or a volume; ``x.volume`` is the
    volume of that file (its service required and ordered before)."""
    if source.startswith("."):
        source = absolute(unit, source)
    if source.startswith("/"):
        svc.add("Unit", "RequiresMountsFor", source)
    elif source.endswith(".volume"):
        info = infos.get(source)
        if info is None:
            raise QuadletError.at(unit, e, f"requested Quadlet source {source} was not "
                               "found (no such .volume file)")
        svc.add("Unit", "Requires", info.service_file)
        svc.add("Unit", "After", info.service_file)
        source = info.resource
    return source


def service_type(svc: UnitFile) -> str | None:
    e = svc.last("Service", "Type")
    if e is not None and e.value not in ("notify", "oneshot"):
        raise QuadletError.at(svc, e, f"invalid service Type '{e.value}' "
                           "(notify or oneshot)")
    return e.value if e else None


def checked(unit: UnitFile, e: Entry, kind: str, value: str) -> str:
    """A port, volume, mount or tmpfs value checked with the parser pyman run uses, so a bad
    one is reported here, with its line, and not when the service starts. A value holding a
    systemd specifier (%h, %i ...) is left to pyman: only systemd knows what it becomes."""
    if "%" in value:
        return value
    from pyman.engine.specgen import mounts
    from pyman.errors import PymanError
    from pyman.netns.ports import parse_publish

    parse = {"PublishPort": parse_publish, "Volume": mounts.parse_volume,
             "Mount": mounts.parse_mount, "Tmpfs": mounts.parse_tmpfs}[kind]
    try:
        parse(value)
    except PymanError as exc:
        raise QuadletError.at(unit, e, f"{kind}={e.value}: {exc}") from None
    return value


def networks(unit: UnitFile, group: str) -> list[str]:
    out = []
    for e in unit.entries(group, "Network"):
        mode = e.value.split(":", 1)[0]
        if mode not in NETWORK_MODES:
            raise QuadletError.at(unit, e, f"unsupported Network={e.value}: pyman "
                               "runs slirp4netns, pasta, none, host, container:NAME and "
                               "ns:PATH (no .network units)")
        out.append(f"--network={e.value}")
    return out


def convert_container(unit: UnitFile, infos: dict[str, UnitInfo], pyman: str,
                      is_user: bool) -> UnitFile:
    g = "Container"
    check(unit, g, CONTAINER_KEYS)
    image = unit.lookup(g, "Image")
    if not image:
        raise QuadletError(unit.path, None, "no Image key specified in [Container]")
    filename = os.path.basename(unit.path)
    name = unit.lookup(g, "ContainerName") or ("systemd-%p_%i" if "@" in filename
                                               else "systemd-%N")
    svc = init_service(unit, g, is_user, network_deps=True, infos=infos)

    svc.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    kill = svc.last("Service", "KillMode")
    if kill is None:
        svc.set("Service", "KillMode", "mixed")
    elif kill.value not in ("mixed", "control-group"):
        raise QuadletError.at(unit, kill, f"invalid KillMode '{kill.value}' "
                           "(mixed or control-group)")
    base = [pyman, *all_words(unit, g, "GlobalArgs")]
    stop = [*base, "rm", "-f", "-i", CIDFILE]
    svc.add("Service", "ExecStop", quote_cmdline(stop))
    # ExecStop is skipped when the main process (the monitor) was killed: *Post is not
    svc.add("Service", "ExecStopPost", "-" + quote_cmdline(stop))
    # rm --cidfile leaves the file (Podman 4.3) and run --cidfile refuses one that exists:
    # without this a unit could start only once (Quadlet 4.4 wrote the same line)
    svc.add("Service", "ExecStopPost", "-rm -f %t/%N.cid")
    svc.add("Service", "Delegate", "yes")

    argv = [*base, "run", f"--name={name}", CIDFILE, "--replace", "--rm", "--cgroups=split"]
    argv += networks(unit, g)
    if service_type(svc) != "oneshot":
        notify = unit.boolean(g, "Notify")
        argv.append("--sdnotify=container" if notify else "--sdnotify=conmon")
        svc.set("Service", "Type", "notify")
        svc.set("Service", "NotifyAccess", "all")
        argv.append("-d")  # the monitor supervises; pyman itself need not stay
    if not unit.has("Service", "SyslogIdentifier"):
        svc.set("Service", "SyslogIdentifier", "%N")

    if unit.boolean(g, "NoNewPrivileges"):
        argv.append("--security-opt=no-new-privileges")
    profile = unit.lookup(g, "SeccompProfile")
    if profile:
        argv.append(f"--security-opt=seccomp={profile}")
    argv += [f"--cap-drop={c.lower()}" for c in all_words(unit, g, "DropCapability")]
    argv += [f"--cap-add={c.lower()}" for c in all_words(unit, g, "AddCapability")]
    if unit.boolean(g, "ReadOnly"):
        argv.append("--read-only")
    ro_tmpfs = unit.boolean(g, "ReadOnlyTmpfs")
    if ro_tmpfs is not None:
        argv.append(f"--read-only-tmpfs={'true' if ro_tmpfs else 'false'}")
    if unit.boolean(g, "RunInit"):
        argv.append("--init")
    user, group = unit.lookup(g, "User"), unit.lookup(g, "Group")
    if group and not user:
        e = unit.last(g, "Group")
        raise QuadletError.at(unit, e, "invalid Group set without User")
    if user:
        argv += ["--user", f"{user}:{group}" if group else user]
    userns = unit.lookup(g, "UserNS")
    if userns:
        argv += ["--userns", userns]
    for e in unit.entries(g, "Volume"):
        parts = e.value.split(":", 2)
        if len(parts) == 1:
            argv += ["-v", checked(unit, e, "Volume", parts[0])]
            continue
        source = storage_source(unit, svc, e, parts[0], infos)
        argv += ["-v", checked(unit, e, "Volume", ":".join([source, *parts[1:]]))]
    for e in unit.entries(g, "PublishPort"):
        argv += ["--publish", checked(unit, e, "PublishPort", e.value)]
    for kv in key_values(unit, g, "Environment"):
        argv += ["--env", kv]
    for kv in key_values(unit, g, "Label"):
        argv += ["--label", kv]
    argv += [f"--security-opt=mask={m}" for m in all_words(unit, g, "Mask")]
    argv += [f"--security-opt=unmask={m}" for m in all_words(unit, g, "Unmask")]
    for e in unit.entries(g, "EnvironmentFile"):
        for path in words(unit, e):
            argv += ["--env-file", absolute(unit, path)]
    for e in unit.entries(g, "Tmpfs"):
        argv += ["--tmpfs", checked(unit, e, "Tmpfs", e.value)]
    for e in unit.entries(g, "Mount"):
        for spec in words(unit, e):
            argv += ["--mount", checked(unit, e, "Mount",
                                        mount_spec(unit, svc, e, spec, infos))]
    for key, flag in (("HostName", "--hostname"), ("Entrypoint", "--entrypoint"),
                      ("WorkingDir", "--workdir"), ("StopSignal", "--stop-signal"),
                      ("StopTimeout", "--stop-timeout"), ("Pull", "--pull"),
                      ("Memory", "--memory"), ("PidsLimit", "--pids-limit")):
        value = unit.lookup(g, key)
        if value:
            argv += [flag, value]
    for key, flag in (("AddHost", "--add-host"), ("Ulimit", "--ulimit")):
        for e in unit.entries(g, key):
            argv += [flag, e.value]
    pod = unit.last(g, "Pod")
    if pod is not None and pod.value:
        info = infos.get(pod.value)
        if not pod.value.endswith(".pod") or info is None:
            raise QuadletError.at(unit, pod, f"Pod={pod.value}: no such .pod file "
                               "(Pod= names a Quadlet .pod file)")
        argv += ["--pod", info.resource]
        svc.add("Unit", "BindsTo", info.service_file)
        svc.add("Unit", "After", info.service_file)
        info.start_with.append(base_name(filename) + ".service")
    argv += all_words(unit, g, "PodmanArgs")
    argv.append(image)
    exec_ = unit.last(g, "Exec")
    if exec_ is not None:
        argv += words(unit, exec_)
    svc.add("Service", "ExecStart", quote_cmdline(argv))
    return svc


def mount_spec(unit: UnitFile, svc: UnitFile, e: Entry, spec: str,
               infos: dict[str, UnitInfo]) -> str:
    fields = spec.split(",")
    kinds = [f.partition("=")[2] for f in fields if f.partition("=")[0] == "type"]
    kind = kinds[-1] if kinds else "volume"
    if kind not in ("volume", "bind"):
        return spec
    rest = [f for f in fields if f.partition("=")[0] != "type"]
    for i, f in enumerate(rest):
        key, eq, value = f.partition("=")
        if key in ("source", "src"):
            if not value:
                raise QuadletError.at(unit, e, "Mount: source parameter does not "
                                   "include a value")
            rest[i] = "source=" + storage_source(unit, svc, e, value, infos)
    return ",".join([f"type={kind}", *rest])


def convert_volume(unit: UnitFile, infos: dict[str, UnitInfo], pyman: str,
                   is_user: bool) -> UnitFile:
    g = "Volume"
    check(unit, g, VOLUME_KEYS)
    info = unit_info(unit)
    svc = init_service(unit, g, is_user, network_deps=False, infos=infos)
    argv = [pyman, *all_words(unit, g, "GlobalArgs"), "volume", "create", "--ignore"]
    o: list[str] = []
    for key, opt in (("User", "uid"), ("Group", "gid")):
        e = unit.last(g, key)
        if e is not None:
            if not e.value.isdigit():
                raise QuadletError.at(unit, e, f"{key}={e.value}: a numeric id")
            o.append(f"{opt}={int(e.value)}")
    copy = unit.boolean(g, "Copy")
    if copy is not None:
        argv += ["--opt", "copy" if copy else "nocopy"]
    device = unit.lookup(g, "Device")
    if device:
        argv += ["--opt", f"device={device}"]
    for key in ("Type", "Options"):
        e = unit.last(g, key)
        if e is None or not e.value:
            continue
        if not device:
            raise QuadletError.at(unit, e, f"key {key} can't be used without Device")
        if key == "Type":
            argv += ["--opt", f"type={e.value}"]
            if e.value == "bind":
                svc.add("Unit", "RequiresMountsFor", device)
        else:
            o.append(e.value)
    if o:
        argv += ["--opt", "o=" + ",".join(o)]
    for kv in key_values(unit, g, "Label"):
        argv += ["--label", kv]
    argv += all_words(unit, g, "PodmanArgs")
    argv.append(info.resource)
    svc.add("Service", "ExecStart", quote_cmdline(argv))
    svc.set("Service", "Type", "oneshot")
    svc.set("Service", "RemainAfterExit", "yes")
    if not unit.has("Service", "SyslogIdentifier"):
        svc.set("Service", "SyslogIdentifier", "%N")
    return svc
