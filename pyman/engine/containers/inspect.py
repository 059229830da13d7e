"""Podman-shaped `inspect` documents for containers (the fields tools read)."""

from __future__ import annotations

import time
from typing import Any

from pyman.storage.containers import ContainerConfig, ContainerState


def inspect_ports(mappings: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """NetworkSettings.Ports and HostConfig.PortBindings: ``{"80/tcp": [{HostIp, HostPort}]}``."""
    out: dict[str, list[dict[str, str]]] = {}
    for m in mappings:
        out.setdefault(f"{m['container_port']}/{m['protocol']}", []).append(
            {"HostIp": m["host_ip"], "HostPort": str(m["host_port"])})
    return out

GO_ZERO = "0001-01-01T00:00:00Z"


def _networks(c: ContainerConfig, run_dir: str, running: bool) -> dict[str, Any]:
    """NetworkSettings.Networks of a container on user-defined networks: its address,
    gateway and MAC from what netavark reported at start (<run>/networks.json)."""
    if not c.networks:
        return {}
    status: dict[str, Any] = {}
    if running:
        import json

        try:
            with open(f"{run_dir}/networks.json") as f:
                status = json.load(f)
        except (OSError, ValueError):
            status = {}
    out = {}
    for i, (name, per) in enumerate(c.networks.items()):
        iface = (status.get(name) or {}).get("interfaces", {}).get(
            per.get("interface_name") or f"eth{i}") or {}
        sub = (iface.get("subnets") or [{}])[0]
        addr, _, plen = str(sub.get("ipnet", "")).partition("/")
        out[name] = {"EndpointID": "", "Gateway": sub.get("gateway") or "",
                     "IPAddress": addr, "IPPrefixLen": int(plen or 0), "IPv6Gateway": "",
                     "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                     "MacAddress": iface.get("mac_address", ""), "NetworkID": name,
                     "DriverOpts": None, "IPAMConfig": None, "Links": None,
                     "Aliases": [*per.get("aliases", []), c.id[:12]]}
    return {"Networks": out}


def rfc3339(ts: float | None) -> str:
    """Epoch seconds -> RFC 3339 in UTC with nanoseconds, as Go prints a time.Time."""
    if not ts:
        return GO_ZERO
    ns = int(ts * 1e9)
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def _caps(c: ContainerConfig) -> tuple[list[str], list[str], list[str], list[str]]:
    """(CapAdd, CapDrop, EffectiveCaps, BoundingCaps) as Podman reports them: added and
    dropped relative to the OCI default set, none of either for --privileged."""
    from pyman.runtime.capabilities import OCI_DEFAULT_CAPABILITIES, kernel_caps, resolve

    bounding = resolve(c.cap_add, c.cap_drop, privileged=c.privileged, default=c.default_caps)
    if c.privileged:
        add: list[str] = []
        drop: list[str] = []
    else:
        add = sorted(set(bounding) - set(OCI_DEFAULT_CAPABILITIES))
        drop = sorted(set(OCI_DEFAULT_CAPABILITIES) - set(bounding))
    root = c.user.split(":")[0] in ("", "0", "root")
    if root:
        effective = bounding
    else:
        known = kernel_caps()
        effective = known if "ALL" in c.cap_add else [x for x in c.cap_add if x in known]
    return add, drop, sorted(effective), bounding


def _ulimits(c: ContainerConfig) -> list[dict[str, Any]]:
    from pyman.runtime.spec import caller_rlimits

    limits = {k: (s, h) for k, (s, h) in caller_rlimits().items()}
    limits.update({name: (soft, hard) for name, soft, hard in c.ulimits})
    return [{"Name": k, "Soft": s, "Hard": h} for k, (s, h) in limits.items()]


def _annotations(c: ContainerConfig) -> dict[str, str]:
    out = {"io.podman.annotations.autoremove": "TRUE" if c.rm else "FALSE",
           "io.podman.annotations.init": "TRUE" if c.init else "FALSE",
           "io.podman.annotations.privileged": "TRUE" if c.privileged else "FALSE"}
    for opt in c.security_opt:
        key, _, value = opt.partition("=")
        if key in ("label", "seccomp", "apparmor"):
            out[f"io.podman.annotations.{key}"] = value
    return out


class GoState(dict[str, Any]):
    """inspect's State: templates may also ask for .Healthcheck, Podman's method that
    returns Health (not in the JSON)."""

    methods = {"Healthcheck": "Health"}


def _health(c: ContainerConfig, static_dir: str) -> dict[str, Any]:
    """State.Health: the results so far ({"Status": ""...} without a healthcheck)."""
    if not c.healthcheck:
        return {"Status": "", "FailingStreak": 0, "Log": None}
    from pyman.engine.health.check import read_results

    return read_results(static_dir)


def container_inspect(c: ContainerConfig, st: ContainerState, *, static_dir: str,
                      run_dir: str, runtime: str = "runc") -> dict[str, Any]:
    from pathlib import Path

    from pyman.engine.containers.mounts import inspect as inspect_mounts
    from pyman.engine.specgen.log_config import inspect as log_inspect
    from pyman.storage.volumes import VolumeStore

    # static_dir is <data>/containers/<id>: the volumes live in <data>/volumes
    mounts, binds, tmpfs = inspect_mounts(
        c.mounts, VolumeStore(Path(static_dir).parent.parent / "volumes"))
    # between a run's exit and the restart policy's next run Podman says "exited" too
    status = {"starting": "created", "restarting": "exited"}.get(st.status, st.status)
    running = status == "running"
    if running and (Path(run_dir) / "stop-in-progress").exists():  # containers.STOPPING
        status, running = "stopping", False  # as Podman while a stop waits for the exit
    cap_add, cap_drop, effective, bounding = _caps(c)
    return {
        "Id": c.id,
        "Created": rfc3339(c.created),
        "Path": c.args[0] if c.args else "",
        "Args": c.args[1:],
        "State": GoState({
            "OciVersion": "1.0.2-dev",
            "Status": status,
            "Running": running,
            "Paused": status == "paused",
            "Restarting": st.status == "restarting",
            "OOMKilled": False,
            "Dead": False,
            "Pid": st.pid if running or status == "stopping" else 0,
            "ConmonPid": st.monitor_pid if running or status == "stopping" else 0,
            "ExitCode": st.exit_code or 0,
            "Error": st.error,
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.finished_at),
            "Health": _health(c, static_dir),
        }),
        "Image": c.image_id.removeprefix("sha256:"),
        "ImageDigest": c.image_digest,
        "ImageName": c.image_name,
        "Rootfs": "",
        "Pod": c.pod,
        "ResolvConfPath": f"{run_dir}/resolv.conf",
        "HostnamePath": f"{run_dir}/hostname",
        "HostsPath": f"{run_dir}/hosts",
        "StaticDir": static_dir,
        "OCIConfigPath": f"{run_dir}/config.json",
        "OCIRuntime": c.oci_runtime or runtime,
        "ConmonPidFile": c.conmon_pidfile or f"{run_dir}/monitor.pid",
        "PidFile": f"{run_dir}/pid",
        "Name": c.name,
        "RestartCount": st.restart_count,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": effective,
        "BoundingCaps": bounding,
        "ExecIDs": [],
        "GraphDriver": {"Name": "vfs", "Data": None} if c.storage_driver == "vfs" else {
            "Name": "overlay", "Data": {"UpperDir": f"{static_dir}/upper",
                                        "WorkDir": f"{static_dir}/work",
                                        "MergedDir": f"{static_dir}/merged"}},
        "Mounts": mounts,
        "Dependencies": list(c.requires),
        "NetworkSettings": {"IPAddress": "", "Gateway": "", "MacAddress": "",
                            "Ports": inspect_ports(c.ports),
                            "SandboxKey": "",
                            **_networks(c, run_dir, running)},
        "Namespace": "",
        "IsInfra": c.infra,
        "Config": {
            "Hostname": c.hostname,
            "Domainname": "",
            "User": c.user,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "Tty": c.tty,
            "OpenStdin": c.interactive,
            "StdinOnce": False,
            "Env": c.env,
            "Cmd": c.cmd or None,
            "Image": c.image_name,
            "Volumes": None,
            "WorkingDir": c.workdir,
            "Entrypoint": " ".join(c.entrypoint),
            "OnBuild": None,
            "Labels": c.labels or None,
            "Annotations": _annotations(c),
            "StopSignal": c.stop_signal,
            "StopTimeout": 10 if c.stop_timeout is None else c.stop_timeout,
            "Timeout": c.timeout,
            "CreateCommand": c.create_command or None,
            "SdNotifyMode": c.sdnotify,
            # omitempty, as Go's Schema2HealthConfig: a zero duration is left out
            "Healthcheck": {k: v for k, v in c.healthcheck.items() if v} or None,
            "HealthcheckOnFailureAction": c.health_on_failure,
        },
        "HostConfig": {
            "Binds": binds,
            "Tmpfs": tmpfs,
            "NetworkMode": c.network,
            "IpcMode": f"container:{c.join}" if "ipc" in c.share and not c.pod
            else c.ipc or "shareable",
            "PortBindings": inspect_ports(c.ports),
            "RestartPolicy": {"Name": c.restart_policy,
                              "MaximumRetryCount": c.restart_retries},
            "AutoRemove": c.rm,
            "VolumesFrom": None,
            "CapAdd": cap_add,
            "CapDrop": cap_drop,
            "SecurityOpt": list(c.security_opt),
            "Privileged": c.privileged,
            "ReadonlyRootfs": c.read_only,
            "Init": True if c.init else None,
            "ExtraHosts": list(c.extra_hosts),
            "Dns": list(c.dns),
            "DnsOptions": list(c.dns_options),
            "DnsSearch": list(c.dns_search),
            "LogConfig": log_inspect(c.log_driver, c.log_path, c.log_size, c.log_tag,
                                     static_dir),
            "Memory": c.memory,
            "NanoCpus": c.nano_cpus,
            "PidsLimit": c.pids_limit,
            "Ulimits": _ulimits(c),
            "UsernsMode": "private" if c.userns else "",  # as Podman, whatever the mode
        },
    }
