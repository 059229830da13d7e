"""Kubernetes YAML for `pyman kube play`: read every document, check every field pyman acts
on, and turn them into a plan. Nothing is created here: a file with one bad field is refused
whole, with the file, the line and the field's path in the message.

Supported: v1 Pod, apps/v1 Deployment (one replica: pyman runs pods on one machine), v1
PersistentVolumeClaim (a named volume), v1 Service (accepted and left aside: published ports
come from the containers' hostPort, as in Podman).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyman.errors import KubeError
from pyman.names import NAME_RULE, valid_name
from pyman.runtime.capabilities import (
    DEFAULT_CAPABILITIES,
    OCI_DEFAULT_CAPABILITIES,
    UnknownCapability,
    normalize,
    normalize_all,
)

KINDS = {"Pod": "v1", "Deployment": "apps/v1", "PersistentVolumeClaim": "v1",
         "Service": "v1"}
PULL_POLICIES = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # fullmatch: "$" lets "a\n" in


@dataclass
class KubeContainer:
    name: str
    image: str
    pull: str = "missing"
    entrypoint: list[str] | None = None  # command: replaces the image's ENTRYPOINT
    args: list[str] | None = None  # args: replaces its CMD
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    cap_add: list[str] = field(default_factory=list)  # against pyman's default set
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privileges: bool = False
    read_only: bool = False
    volumes: list[str] = field(default_factory=list)  # -v specs
    tmpfs: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)  # -p specs


@dataclass
class KubePod:
    name: str
    hostname: str | None
    restart: str  # no | always | on-failure
    containers: list[KubeContainer]
    kind: str = "Pod"

    @property
    def publish(self) -> list[str]:
        return [p for c in self.containers for p in c.publish]


@dataclass
class KubePlan:
    pods: list[KubePod] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)  # PersistentVolumeClaims: volumes


class Document:
    """One YAML document and where each of its values sits in the file."""

    def __init__(self, source: str, index: int, data: Any, lines: dict[tuple[Any, ...], int]
                 ) -> None:
        self.source, self.index, self.data, self.lines = source, index, data, lines

    def error(self, path: tuple[Any, ...], why: str) -> KubeError:
        line = None
        probe = path
        while line is None and probe:
            line = self.lines.get(probe)
            probe = probe[:-1]
        if line is None:
            line = self.lines.get((), 1)
        return KubeError(f"{self.source}:{line}: {dotted(path) or 'document'}: {why} "
                         f"(document {self.index})")


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load(text: str, source: str) -> list[Document]:
    """The documents of a YAML stream, each with a path -> line map (1-based)."""
    import yaml

    loader = yaml.SafeLoader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[tuple[Any, ...], int] = {}
            _walk(node, (), lines)
            data = loader.construct_document(node)
            if data is not None:
                docs.append(Document(source, len(docs) + 1, data, lines))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KubeError(f"{source}{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if not docs:
        raise KubeError(f"{source}: no Kubernetes objects in the file")
    return docs


def _walk(node: Any, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[(*path, key.value)] = key.start_mark.line + 1
                _walk(value, (*path, key.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def plan(text: str, source: str) -> KubePlan:
    result = KubePlan()
    names: set[str] = set()
    for doc in load(text, source):
        if not isinstance(doc.data, dict):
            raise doc.error((), "a Kubernetes object must be a mapping")
        kind = _get(doc, (), "kind", str, required=True)
        if kind not in KINDS:
            raise doc.error(("kind",), f"unsupported kind {kind!r}: pyman plays "
                            f"{', '.join(KINDS)}")
        api = _get(doc, (), "apiVersion", str, required=True)
        if api != KINDS[kind]:
            raise doc.error(("apiVersion",), f"{kind} is {KINDS[kind]}, not {api!r}")
        name = _get(doc, ("metadata",), "name", str, required=True)
        if not DNS_LABEL.fullmatch(name):
            raise doc.error(("metadata", "name"), f"{name!r} is not a valid name (lower-case "
                            "letters, digits and '-')")
        if kind == "PersistentVolumeClaim":
            if name not in result.claims:
                result.claims.append(name)
            continue
        if kind == "Service":
            continue
        if kind == "Deployment":
            replicas = _get(doc, ("spec",), "replicas", int)
            if replicas is not None and replicas > 1:
                raise doc.error(("spec", "replicas"), f"{replicas} replicas: pyman runs a "
                                "Deployment as one pod on this machine (replicas: 1)")
            spec_path: tuple[Any, ...] = ("spec", "template", "spec")
            _get(doc, ("spec", "template"), "spec", dict, required=True)
            pod_name = f"{name}-pod"  # as Podman names a Deployment's pod
        else:
            spec_path = ("spec",)
            _get(doc, (), "spec", dict, required=True)
            pod_name = name
        if pod_name in names:
            raise doc.error(("metadata", "name"), f"a second pod named {pod_name!r}")
        names.add(pod_name)
        result.pods.append(_pod(doc, spec_path, pod_name, kind))
    return result


def _pod(doc: Document, sp: tuple[Any, ...], name: str, kind: str) -> KubePod:
    restart = _get(doc, sp, "restartPolicy", str) or "Always"
    if restart not in RESTART:
        raise doc.error((*sp, "restartPolicy"), f"{restart!r}: Always, OnFailure or Never")
    volumes: dict[str, dict[str, Any]] = {}
    for i, vol in enumerate(_get(doc, sp, "volumes", list) or []):
        vpath = (*sp, "volumes", i)
        vname = _get(doc, vpath, "name", str, required=True)
        volumes[vname] = _volume(doc, vpath, vol)
    containers = []
    seen: set[str] = set()
    items = _get(doc, sp, "containers", list, required=True)
    if not items:
        raise doc.error((*sp, "containers"), "a pod needs at least one container")
    for i, _ in enumerate(items):
        c = _container(doc, (*sp, "containers", i), volumes)
        if c.name in seen:
            raise doc.error((*sp, "containers", i, "name"), f"a second container {c.name!r}")
        seen.add(c.name)
        containers.append(c)
    hostname = _get(doc, sp, "hostname", str)
    return KubePod(name, hostname, RESTART[restart], containers, kind)


def _volume(doc: Document, path: tuple[Any, ...], vol: dict[str, Any]) -> dict[str, Any]:
    if "hostPath" in vol:
        p = _get(doc, (*path, "hostPath"), "path", str, required=True)
        if not p.startswith("/"):
            raise doc.error((*path, "hostPath", "path"), "must be an absolute path")
        return {"bind": p}
    if "persistentVolumeClaim" in vol:
        claim = _get(doc, (*path, "persistentVolumeClaim"), "claimName", str, required=True)
        if not valid_name(claim):  # a volume's name: Podman's rule
            raise doc.error((*path, "persistentVolumeClaim", "claimName"),
                            f"{claim!r}: {NAME_RULE}")
        return {"volume": claim}
    if "emptyDir" in vol:
        return {"tmpfs": True}
    other = sorted(k for k in vol if k != "name")
    raise doc.error(path, f"unsupported volume source {other[0] if other else '(none)'}: "
                    "pyman takes hostPath, persistentVolumeClaim and emptyDir")


def _container(doc: Document, cp: tuple[Any, ...], volumes: dict[str, dict[str, Any]]
               ) -> KubeContainer:
    name = _get(doc, cp, "name", str, required=True)
    if not DNS_LABEL.fullmatch(name):
        raise doc.error((*cp, "name"), f"{name!r} is not a valid container name")
    c = KubeContainer(name=name, image=_get(doc, cp, "image", str, required=True))
    policy = _get(doc, cp, "imagePullPolicy", str)
    if policy is not None:
        if policy not in PULL_POLICIES:
            raise doc.error((*cp, "imagePullPolicy"), f"{policy!r}: Always, IfNotPresent "
                            "or Never")
        c.pull = PULL_POLICIES[policy]
    c.entrypoint = _strings(doc, cp, "command")
    c.args = _strings(doc, cp, "args")
    for i, item in enumerate(_get(doc, cp, "env", list) or []):
        ep = (*cp, "env", i)
        key = _get(doc, ep, "name", str, required=True)
        if isinstance(item, dict) and "valueFrom" in item:
            raise doc.error((*ep, "valueFrom"), "valueFrom (secrets, config maps) is not "
                            "supported: give a value")
        value = _get(doc, ep, "value", (str, int, float, bool))
        c.env.append(f"{key}={'' if value is None else _scalar(value)}")
    c.workdir = _get(doc, cp, "workingDir", str)
    _security(doc, cp, c)
    for i, _ in enumerate(_get(doc, cp, "ports", list) or []):
        pp = (*cp, "ports", i)
        cport = _port(doc, pp, "containerPort", required=True)
        hport = _port(doc, pp, "hostPort")
        proto = (_get(doc, pp, "protocol", str) or "TCP").upper()
        if proto not in ("TCP", "UDP"):
            raise doc.error((*pp, "protocol"), f"{proto}: pyman publishes TCP and UDP")
        if hport:
            ip = _get(doc, pp, "hostIP", str)
            prefix = f"{ip}:" if ip else ""
            c.publish.append(f"{prefix}{hport}:{cport}/{proto.lower()}")
    for i, _ in enumerate(_get(doc, cp, "volumeMounts", list) or []):
        mp = (*cp, "volumeMounts", i)
        vname = _get(doc, mp, "name", str, required=True)
        dest = _get(doc, mp, "mountPath", str, required=True)
        if not dest.startswith("/"):
            raise doc.error((*mp, "mountPath"), "must be an absolute path")
        if vname not in volumes:
            raise doc.error((*mp, "name"), f"no volume {vname!r} in the pod's volumes")
        ro = bool(_get(doc, mp, "readOnly", bool))
        src = volumes[vname]
        if "tmpfs" in src:
            c.tmpfs.append(dest + (":ro" if ro else ""))
        else:
            c.volumes.append(f"{src.get('bind') or src['volume']}:{dest}" + (":ro" if ro else ""))
    return c


def _security(doc: Document, cp: tuple[Any, ...], c: KubeContainer) -> None:
    sp = (*cp, "securityContext")
    if _get(doc, cp, "securityContext", dict) is None:
        return
    c.privileged = bool(_get(doc, sp, "privileged", bool))
    c.read_only = bool(_get(doc, sp, "readOnlyRootFilesystem", bool))
    c.no_new_privileges = _get(doc, sp, "allowPrivilegeEscalation", bool) is False
    uid = _get(doc, sp, "runAsUser", int)
    gid = _get(doc, sp, "runAsGroup", int)
    if uid is not None:
        c.user = f"{uid}:{gid}" if gid is not None else str(uid)
    elif gid is not None:
        raise doc.error((*sp, "runAsGroup"), "runAsGroup needs runAsUser")
    caps = _get(doc, sp, "capabilities", dict)
    if caps is None:
        return
    add = _caps(doc, (*sp, "capabilities"), "add")
    drop = _caps(doc, (*sp, "capabilities"), "drop")
    # Kubernetes' add/drop are against the OCI default set; pyman's against Podman's
    wanted = (set(OCI_DEFAULT_CAPABILITIES) | set(add)) - set(drop)
    if "ALL" in drop:
        wanted = set(add) - {"ALL"}
        c.cap_drop = ["ALL"]
        c.cap_add = sorted(wanted)
        return
    # against the default set the container will get (containers.conf, else Podman 4.3's)
    from pyman.containers_conf import current

    conf_caps = current().default_capabilities
    try:  # a bad name is the create's ConfigError, naming the file
        default = set(DEFAULT_CAPABILITIES if conf_caps is None else normalize_all(conf_caps))
    except UnknownCapability:
        default = set(DEFAULT_CAPABILITIES)
    c.cap_add = sorted(wanted - default)
    c.cap_drop = sorted(default - wanted)


def _caps(doc: Document, path: tuple[Any, ...], key: str) -> list[str]:
    out = []
    for i, name in enumerate(_strings(doc, path, key) or []):
        try:
            out.append(normalize(name))
        except UnknownCapability:
            raise doc.error((*path, key, i), f"unknown capability {name!r}") from None
    return out


def _port(doc: Document, path: tuple[Any, ...], key: str, required: bool = False) -> int:
    value = _get(doc, path, key, int, required=required)
    if value is None:
        return 0
    if not 1 <= value <= 65535:
        raise doc.error((*path, key), f"{value} is not a port (1-65535)")
    return int(value)


def _strings(doc: Document, path: tuple[Any, ...], key: str) -> list[str] | None:
    items = _get(doc, path, key, list)
    if items is None:
        return None
    for i, item in enumerate(items):
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise doc.error((*path, key, i), "must be a string")
    return [_scalar(x) for x in items]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
              dict: "a mapping"}


def _get(doc: Document, path: tuple[Any, ...], key: str, kind: Any, required: bool = False
         ) -> Any:
    node: Any = doc.data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
        if node is None:
            break
    if not isinstance(node, dict):
        if required:
            raise doc.error(path, f"missing (it must hold {key})")
        return None
    value = node.get(key)
    if value is None:
        if required:
            raise doc.error((*path, key), "required field is missing")
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        want = " or ".join(TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise doc.error((*path, key), f"must be {want}, not {value!r}")
    return value
