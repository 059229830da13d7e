"""``.pod`` files: a pod service (Type=forking on the infra's monitor) whose members are
the .container files that say Pod=<this file>; it wants and precedes them, they bind to it."""

from __future__ import annotations

from pyman.quadlet.convert import (
    POD_KEYS,
    UnitInfo,
    all_words,
    check,
    checked,
    init_service,
    key_values,
    networks,
    unit_info,
)
from pyman.quadlet.unitfile import UnitFile
from pyman.quadlet.words import quote_cmdline


def convert_pod(unit: UnitFile, infos: dict[str, UnitInfo], pyman: str,
                is_user: bool) -> UnitFile:
    g = "Pod"
    check(unit, g, POD_KEYS)
    info = infos.get(unit.path.rsplit("/", 1)[-1]) or unit_info(unit)
    name = info.resource
    svc = init_service(unit, g, is_user, network_deps=True, infos=infos)
    base = [pyman, *all_words(unit, g, "GlobalArgs")]
    for member in info.start_with:
        svc.add("Unit", "Wants", member)
        svc.add("Unit", "Before", member)
    if not unit.has("Service", "SyslogIdentifier"):
        svc.set("Service", "SyslogIdentifier", "%N")
    svc.add("Service", "ExecStart", quote_cmdline([*base, "pod", "start", name]))
    svc.add("Service", "ExecStop", quote_cmdline(
        [*base, "pod", "stop", "--ignore", "--time=10", name]))
    svc.add("Service", "ExecStopPost", quote_cmdline(
        [*base, "pod", "rm", "--ignore", "--force", name]))
    argv = [*base, "pod", "create", "--infra-conmon-pidfile=%t/%N.pid", "--replace"]
    for e in unit.entries(g, "PublishPort"):
        argv += ["--publish", checked(unit, e, "PublishPort", e.value)]
    for kv in key_values(unit, g, "Label"):
        argv += ["--label", kv]
    argv += networks(unit, g)
    hostname = unit.lookup(g, "HostName")
    if hostname:
        argv += ["--hostname", hostname]
    argv += ["--infra-name", f"{name}-infra", "--name", name]
    argv += all_words(unit, g, "PodmanArgs")
    svc.add("Service", "ExecStartPre", quote_cmdline(argv))
    svc.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    svc.set("Service", "Type", "forking")
    svc.set("Service", "Restart", "on-failure")
    svc.set("Service", "PIDFile", "%t/%N.pid")
    return svc
