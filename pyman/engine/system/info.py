"""`pyman info`: what this host gives pyman, and the choices pyman made from it."""

from __future__ import annotations

import os
import platform
from typing import Any

from pyman import __version__
from pyman.build import BUILDAH_COMPAT
from pyman.engine import Engine


def version() -> dict[str, Any]:
    """`version`'s document: the client's part only (pyman has no server)."""
    from pyman.build_info import client_version

    return {"Client": client_version()}


def _cgroup_version() -> str:
    return "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"


def _tool_version(path: str | None) -> str:
    if not path:
        return ""
    import subprocess

    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
    except OSError:
        return ""
    text = (out.stdout or out.stderr).strip().splitlines()
    return next((ln for ln in text if "syslog" not in ln), "")


def _distribution() -> dict[str, str]:
    """/etc/os-release's ID, VERSION_ID and VERSION_CODENAME, as Podman's info shows them."""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            pairs = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        pairs = {}
    value = {k: v.strip('"') for k, v in pairs.items()}
    return {"distribution": value.get("ID", ""), "version": value.get("VERSION_ID", ""),
            "codename": value.get("VERSION_CODENAME", "")}


def _id_maps() -> dict[str, Any]:
    from pyman.errors import PymanError
    from pyman.rootless.userns import host_id_maps

    try:
        maps = host_id_maps()
    except PymanError as exc:
        return {"error": str(exc)}

    def rows(ms: Any) -> list[dict[str, int]]:
        return [{"container_id": m.inside, "host_id": m.outside, "size": m.count} for m in ms]

    return {"uidmap": rows(maps.uid), "gidmap": rows(maps.gid)}


def _network_backend(paths: Any) -> dict[str, Any]:
    """User-defined networks: netavark (as Podman 4.3), its binaries, where the definitions
    live and whether the rootless network namespace runs."""
    from pyman.engine.network.user_networks import AARDVARK, NETAVARK, find_binary
    from pyman.errors import PymanError
    from pyman.netns.networks import network_dir
    from pyman.netns.rootless_netns import status

    found = {}
    for name, where in (("netavark", NETAVARK), ("aardvark-dns", AARDVARK)):
        try:
            path = find_binary(name, where)
        except PymanError:
            path = ""
        found[name] = {"executable": path, "version": _tool_version(path)}
    holder = status(str(paths.runtime))
    return {"networkBackend": "netavark", "networkConfigDir": str(network_dir()),
            **found, "rootlessNetns": {"running": holder is not None,
                                       "holderPid": holder["pid"] if holder else 0}}


def _checks(engine: Engine) -> list[dict[str, str]]:
    """`pyman system check`'s lines: {name, status (ok|warn|fail), detail (with the fix)}."""
    from pyman.engine.system.check_host import run_checks

    return [c.as_dict() for c in run_checks(engine.paths, engine.runtime)]


def host_info(engine: Engine, cgroup_manager: str | None = None,
              events_backend: str | None = None, checks: bool = True) -> dict[str, Any]:
    """``checks``: add `system check`'s findings (host.systemCheck; ~0.3 s of probes, so
    left out when a --format template does not ask for them)."""
    from pyman.containers_conf import current
    from pyman.engine.network.modes import default_network
    from pyman.engine.system import info_facts as facts
    from pyman.runtime.select import runtime_report

    p = engine.paths
    conf = current()
    containers = engine.containers.summaries(True)
    net, why = default_network()
    pasta, slirp = conf.find_helper("pasta"), conf.find_helper("slirp4netns")
    return {
        "host": {
            "arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                                platform.machine()),
            "os": "linux",
            "buildahVersion": BUILDAH_COMPAT,
            "conmon": facts.monitor(),
            "cpus": os.cpu_count() or 1,
            **facts.memory(),
            "uptime": facts.uptime(),
            "kernel": platform.release(),
            "hostname": platform.node(),
            "cgroupVersion": _cgroup_version(),
            "distribution": _distribution(),
            "ociRuntime": runtime_report(p, engine.runtime),
            "rootless": os.getuid() != 0,
            "idMappings": _id_maps(),
            "rootlessNetworkCmd": net,
            "network": {"default": net, "reason": why},
            "pasta": {"executable": pasta or "", "version": _tool_version(pasta)},
            "slirp4netns": {"executable": slirp or "", "version": _tool_version(slirp)},
            **_network_backend(p),
            "containersConf": conf.files,  # the files read, in order
            "cgroupManager": cgroup_manager or "cgroupfs",
            "eventLogger": events_backend or _event_logger(),
            "logDriver": "k8s-file",
            "security": {"rootless": os.getuid() != 0},
            # where `pyman system service` listens by default (Podman's remoteSocket:
            # DOCKER_HOST=unix://<path>); exists while a service listens there
            "remoteSocket": {"path": str(p.service_socket),
                             **({"exists": True} if p.service_socket.is_socket() else {})},
            **({"systemCheck": _checks(engine)} if checks else {}),
        },
        "registries": facts.registries(),
        "store": {
            "graphRoot": str(p.data),
            **facts.space(str(p.data)),
            "runRoot": str(p.runtime),
            "runRootFallback": p.runtime_fallback,
            "graphDriverName": p.driver,
            "graphOptions": {"overlay.mount_program": p.mount_program} if p.mount_program
            else {},
            "graphStatus": facts.graph_status(str(p.data), p.driver),
            "configFile": p.storage_conf,
            "imageStore": {"number": len(engine.images.store.all())},
            "containerStore": {
                "number": len(containers),
                "running": sum(1 for c in containers if c.status == "running"),
                "stopped": sum(1 for c in containers if c.status != "running"),
            },
            "configDir": str(p.config),
            "volumePath": str(p.volumes),
        },
        "version": {"Version": __version__, "PythonVersion": platform.python_version()},
    }


def _event_logger() -> str:
    from pyman.eventlog import settings

    return settings()[0]
