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


def rfc3339(ts: float | None) -> str:
    """Epoch seconds -> RFC 3339 in UTC with nanoseconds, as Go prints a time.Time."""
    if not ts:
        return GO_ZERO
    ns = int(ts * 1e9)
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def container_inspect(c: ContainerConfig, st: ContainerState, *, static_dir: str,
                      run_dir: str, runtime: str = "runc") -> dict[str, Any]:
    status = "created" if st.status == "starting" else st.status
    running = status == "running"
    return {
        "Id": c.id,
        "Created": rfc3339(c.created),
        "Path": c.args[0] if c.args else "",
        "Args": c.args[1:],
        "State": {
            "OciVersion": "1.0.2-dev",
            "Status": status,
            "Running": running,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": st.pid if running else 0,
            "ConmonPid": st.monitor_pid if running else 0,
            "ExitCode": st.exit_code or 0,
            "Error": st.error,
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.finished_at),
        },
        "Image": c.image_id.removeprefix("sha256:"),
        "ImageName": c.image_name,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": f"{run_dir}/resolv.conf",
        "HostnamePath": f"{run_dir}/hostname",
        "HostsPath": f"{run_dir}/hosts",
        "StaticDir": static_dir,
        "OCIConfigPath": f"{run_dir}/config.json",
        "OCIRuntime": runtime,
        "ConmonPidFile": f"{run_dir}/state.json",
        "PidFile": f"{run_dir}/pid",
        "Name": c.name,
        "RestartCount": 0,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": [],
        "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": f"{static_dir}/upper",
                                                    "WorkDir": f"{static_dir}/work",
                                                    "MergedDir": f"{static_dir}/merged"}},
        "Mounts": [],
        "Dependencies": [],
        "NetworkSettings": {"IPAddress": "", "Gateway": "", "MacAddress": "",
                            "Ports": inspect_ports(c.ports),
                            "SandboxKey": ""},
        "Namespace": "",
        "IsInfra": False,
        "Config": {
            "Hostname": c.hostname,
            "Domainname": "",
            "User": c.user,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "Tty": False,
            "OpenStdin": False,
            "StdinOnce": False,
            "Env": c.env,
            "Cmd": c.cmd or None,
            "Image": c.image_name,
            "Volumes": None,
            "WorkingDir": c.workdir,
            "Entrypoint": " ".join(c.entrypoint),
            "OnBuild": None,
            "Labels": c.labels or None,
            "Annotations": {"io.podman.annotations.autoremove": "TRUE" if c.rm else "FALSE"},
            "StopSignal": 15,
        },
        "HostConfig": {
            "Binds": [],
            "NetworkMode": c.network,
            "PortBindings": inspect_ports(c.ports),
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
            "AutoRemove": c.rm,
            "VolumesFrom": None,
            "CapAdd": [],
            "CapDrop": [],
            "Privileged": False,
            "ReadonlyRootfs": False,
            "LogConfig": {"Type": "k8s-file", "Config": None,
                          "Path": f"{static_dir}/ctr.log"},
            "Memory": 0,
            "NanoCpus": 0,
            "PidsLimit": 0,
            "Ulimits": [],
            "UsernsMode": "",
        },
    }
