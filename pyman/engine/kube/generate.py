"""`pyman kube generate`: containers and pods as Kubernetes YAML a cluster accepts.

The shape follows podman 4.3's: a v1 Pod (and with ``service`` a NodePort v1 Service first),
capabilities given against the OCI/Kubernetes default set, bind mounts as hostPath volumes,
named volumes as persistentVolumeClaims. kube_play reads it back to the same containers.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from pyman import __version__
from pyman.errors import PymanError
from pyman.runtime.capabilities import OCI_DEFAULT_CAPABILITIES, resolve
from pyman.storage.containers import ContainerConfig
from pyman.storage.mount_spec import MountSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine import Engine
    from pyman.storage.pods import PodConfig

HEADER = ("# Save the output of this file and use kubectl create -f to import\n"
          "# it into Kubernetes.\n#\n"
          f"# Created with pyman-{__version__}\n")
# environment every container gets: not part of what the user asked for
IMPLICIT_ENV = ("HOSTNAME", "container", "TERM", "HOME")
RESTART_POLICIES = {"always": "Always", "unless-stopped": "Always", "on-failure": "OnFailure"}


def generate(engine: Engine, keys: list[str], service: bool = False) -> str:
    """YAML for one pod (a pod's members, or the given containers as one pod)."""
    from pyman.storage.pods import PodConfig

    containers: list[ContainerConfig] = []
    name = hostname = ""
    ports: list[dict[str, Any]] = []
    for key in keys:
        found = _lookup(engine, key)
        if isinstance(found, PodConfig):
            if len(keys) > 1:
                raise PymanError("generate kube takes one pod, or containers that are not "
                                 "in a pod")
            containers = [engine.containers.store.find(m.id)
                          for m in engine.pods.members(found) if m.id != found.infra_id]
            if not containers:
                raise PymanError(f"pod {found.id} only has an infra container: nothing to "
                                 "generate")
            name, hostname = found.name, found.hostname
            infra = engine.containers.store.load(found.infra_id)
            ports = infra.ports if infra is not None else []
            break
        if found.infra:
            raise PymanError(f"{found.name} is a pod's infra container: generate the pod")
        if found.pod:
            raise PymanError(f"{found.name} is in a pod: generate the pod instead")
        containers.append(found)
    else:
        name = f"{containers[0].name}-pod"
        ports = [p for c in containers for p in c.ports]
    prefix = f"{name}-" if hostname else ""  # kube play names a pod's containers <pod>-<name>
    pod_yaml = pod_document(engine, name, hostname, containers, ports, prefix)
    docs = [service_document(name, ports)] if service else []
    docs.append(pod_yaml)
    return HEADER + "---\n".join(dump(d) for d in docs)


def _lookup(engine: Engine, key: str) -> ContainerConfig | PodConfig:
    from pyman.errors import ContainerNotFoundError, PodNotFoundError

    try:
        return engine.containers.store.find(key)
    except ContainerNotFoundError:
        pass
    try:
        return engine.pods.store.find(key)
    except PodNotFoundError:
        raise PymanError(f"{key}: no such pod or container") from None


def dump(doc: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(doc, default_flow_style=False, sort_keys=True))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def service_document(name: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    """A NodePort Service for the published ports (node ports picked as Podman does)."""
    svc_ports = []
    for p in ports:
        entry: dict[str, Any] = {"name": str(p["container_port"]),
                                 "port": p["container_port"],
                                 "targetPort": p["container_port"],
                                 "nodePort": random.randint(30000, 32767)}
        if p["protocol"] != "tcp":
            entry["protocol"] = p["protocol"].upper()
        svc_ports.append(entry)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"creationTimestamp": now(), "labels": {"app": name}, "name": name},
            "spec": {"ports": svc_ports, "selector": {"app": name}, "type": "NodePort"}}


def pod_document(engine: Engine, name: str, hostname: str, containers: list[ContainerConfig],
                 ports: list[dict[str, Any]], prefix: str = "") -> dict[str, Any]:
    volumes: dict[str, dict[str, Any]] = {}
    specs = []
    for i, c in enumerate(containers):
        spec = container_spec(engine, c, volumes, prefix)
        if i == 0 and ports:  # the pod's ports, on its first container, as Podman puts them
            spec["ports"] = [port_spec(p) for p in ports]
        specs.append(spec)
    policy = "Never"
    for c in containers:
        policy = RESTART_POLICIES.get(c.restart_policy, policy)
    pod_spec: dict[str, Any] = {"automountServiceAccountToken": False,
                                "containers": specs, "enableServiceLinks": False,
                                "restartPolicy": policy}
    if hostname:
        pod_spec["hostname"] = hostname
    if volumes:
        pod_spec["volumes"] = [volumes[k] for k in sorted(volumes)]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"creationTimestamp": now(), "labels": {"app": name}, "name": name},
            "spec": pod_spec, "status": {}}


def port_spec(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"containerPort": p["container_port"], "hostPort": p["host_port"]}
    if p.get("host_ip"):
        out["hostIP"] = p["host_ip"]
    if p["protocol"] != "tcp":
        out["protocol"] = p["protocol"].upper()
    return out


def container_spec(engine: Engine, c: ContainerConfig, volumes: dict[str, dict[str, Any]],
                   prefix: str = "") -> dict[str, Any]:
    image_cfg = _image_config(engine, c)
    spec: dict[str, Any] = {"image": c.image_name, "name": container_name(c, prefix)}
    image_args = list(image_cfg.get("Entrypoint") or []) + list(image_cfg.get("Cmd") or [])
    if c.args != image_args:
        spec["command"] = list(c.args)
    image_env = set(image_cfg.get("Env") or [])
    env = [e for e in c.env if e not in image_env and e.split("=", 1)[0] not in IMPLICIT_ENV]
    if env:
        spec["env"] = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in env)]
    if c.workdir and c.workdir != (image_cfg.get("WorkingDir") or "/"):
        spec["workingDir"] = c.workdir
    sec = security_context(c, str(image_cfg.get("User") or ""))
    if sec:
        spec["securityContext"] = sec
    mounts = []
    for m in (MountSpec.from_json(d) for d in c.mounts):
        vol = volume_source(m)
        if vol is None:
            continue
        volumes[vol["name"]] = vol
        mount: dict[str, Any] = {"mountPath": m.destination, "name": vol["name"]}
        if not m.rw:
            mount["readOnly"] = True
        mounts.append(mount)
    if mounts:
        spec["volumeMounts"] = mounts
    return spec


def container_name(c: ContainerConfig, prefix: str) -> str:
    """A DNS-1123 label, without the pod's name that kube play put in front."""
    name = c.name[len(prefix):] if prefix and c.name.startswith(prefix) else c.name
    return re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63] or c.id[:12]


def security_context(c: ContainerConfig, image_user: str) -> dict[str, Any]:
    sec: dict[str, Any] = {}
    if c.privileged:
        sec["privileged"] = True
    else:
        caps = set(resolve(c.cap_add, c.cap_drop, default=c.default_caps))
        add = sorted(caps - set(OCI_DEFAULT_CAPABILITIES))
        drop = sorted(set(OCI_DEFAULT_CAPABILITIES) - caps)
        if add or drop:
            sec["capabilities"] = {k: v for k, v in (("add", add), ("drop", drop)) if v}
    if c.no_new_privileges:
        sec["allowPrivilegeEscalation"] = False
    if c.read_only:
        sec["readOnlyRootFilesystem"] = True
    if c.user and c.user != image_user:
        uid, _, gid = c.user.partition(":")
        if uid.isdigit():
            sec["runAsUser"] = int(uid)
        if gid.isdigit():
            sec["runAsGroup"] = int(gid)
    return sec


def volume_source(m: MountSpec) -> dict[str, Any] | None:
    """The pod volume a mount comes from (None: an anonymous volume, which Kubernetes has no
    word for that survives a round trip; Podman leaves them out too)."""
    if m.type == "bind":
        import os

        kind = "Directory" if os.path.isdir(m.source) else "File"
        return {"name": _volume_name(m.source) + "-host", "hostPath": {"path": m.source,
                                                                       "type": kind}}
    if m.type == "volume" and not m.anonymous:
        return {"name": _volume_name(m.source) + "-pvc",
                "persistentVolumeClaim": {"claimName": m.source}}
    if m.type == "tmpfs":
        return {"name": _volume_name(m.destination) + "-tmpfs",
                "emptyDir": {"medium": "Memory"}}
    return None


def _volume_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:50] or "root"


def _image_config(engine: Engine, c: ContainerConfig) -> dict[str, Any]:
    rec = engine.images.store.find(c.image_id)
    if rec is None:  # the image was removed since: nothing to compare with
        return {}
    cfg = engine.images.config(rec).get("config") or {}
    return cfg if isinstance(cfg, dict) else {}
