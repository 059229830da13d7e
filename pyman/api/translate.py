"""A Docker `POST /containers/create` body as pyman's RunOptions.

Docker clients send more than pyman uses: Docker's fields pyman does not use are ignored; a
field Docker does not have either is a 400 naming it (api/fields.py), as is a field of the
wrong type: never a half-made container."""

from __future__ import annotations

import json
from typing import Any

from pyman.api.errors import BadRequest
from pyman.api.fields import check_create
from pyman.engine.types import RunOptions


def _typed(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = doc.get(key)
    if value is not None and not isinstance(value, kind):
        raise BadRequest(f"{where}{key}: wrong type {type(value).__name__}")
    return value


def _strings(doc: dict[str, Any], key: str, where: str) -> list[str]:
    value = _typed(doc, key, (list, str), where)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not all(isinstance(v, str) for v in items):
        raise BadRequest(f"{where}{key}: a list of strings is expected")
    return list(items)


def _ports(bindings: dict[str, Any]) -> list[str]:
    """HostConfig.PortBindings {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} as -p."""
    out = []
    for spec, hosts in bindings.items():
        port, _, proto = spec.partition("/")
        for host in hosts or [{}]:
            if not isinstance(host, dict):
                raise BadRequest(f"HostConfig.PortBindings.{spec}: objects are expected")
            ip, hport = str(host.get("HostIp") or ""), str(host.get("HostPort") or "")
            text = f"{ip}:{hport}:{port}" if ip else f"{hport}:{port}" if hport else port
            out.append(f"{text}/{proto}" if proto else text)
    return out


def _mounts(items: list[Any]) -> list[str]:
    out = []
    for m in items:
        if not isinstance(m, dict) or not isinstance(m.get("Target"), str):
            raise BadRequest("HostConfig.Mounts: objects with a Target are expected")
        kind = str(m.get("Type") or "volume")
        parts = [f"type={kind}", f"target={m['Target']}"]
        if m.get("Source"):
            parts.append(f"source={m['Source']}")
        if m.get("ReadOnly"):
            parts.append("readonly=true")
        out.append(",".join(parts))
    return out


def _network(mode: str | None) -> str | None:
    if mode in (None, "", "default", "bridge"):
        return None  # the default rootless network (Docker's "bridge")
    return mode


def _restart(policy: dict[str, Any] | None) -> str:
    if not policy or not policy.get("Name") or policy.get("Name") == "no":
        return ""
    name = str(policy["Name"])
    if name not in ("always", "unless-stopped", "on-failure"):
        raise BadRequest(f"HostConfig.RestartPolicy.Name: invalid restart policy {name!r}: "
                         "no, always, unless-stopped or on-failure")
    retries = policy.get("MaximumRetryCount") or 0
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def run_options(body: Any, name: str | None) -> RunOptions:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    check_create(body)
    image = body.get("Image")
    if not isinstance(image, str) or not image:
        raise BadRequest("Image: a string naming the image is required")
    host = _typed(body, "HostConfig", dict, "") or {}
    command = _strings(body, "Cmd", "")
    entrypoint = None
    if "Entrypoint" in body and body["Entrypoint"] is not None:
        words = _strings(body, "Entrypoint", "")
        entrypoint = words[0] if words else ""
        command = words[1:] + command  # the process is entrypoint + cmd either way
    labels = _typed(body, "Labels", dict, "") or {}
    opts = RunOptions(
        image=image, command=command, name=name or None, entrypoint=entrypoint,
        env=_strings(body, "Env", ""), labels={str(k): str(v) for k, v in labels.items()},
        workdir=_typed(body, "WorkingDir", str, "") or None,
        user=_typed(body, "User", str, "") or None,
        hostname=_typed(body, "Hostname", str, "") or None,
        tty=bool(body.get("Tty")), interactive=bool(body.get("OpenStdin")),
        stop_signal=_typed(body, "StopSignal", str, "") or None,
        stop_timeout=_typed(body, "StopTimeout", int, ""),
        rm=bool(host.get("AutoRemove")), network=_network(
            _typed(host, "NetworkMode", str, "HostConfig.")),
        privileged=bool(host.get("Privileged")),
        cap_add=_strings(host, "CapAdd", "HostConfig."),
        cap_drop=_strings(host, "CapDrop", "HostConfig."),
        security_opt=_strings(host, "SecurityOpt", "HostConfig."),
        read_only=bool(host.get("ReadonlyRootfs")),
        publish=_ports(_typed(host, "PortBindings", dict, "HostConfig.") or {}),
        publish_all=bool(host.get("PublishAllPorts")),
        add_host=_strings(host, "ExtraHosts", "HostConfig."),
        init=bool(host.get("Init")),
        pids_limit=_typed(host, "PidsLimit", int, "HostConfig.") or None,
        volumes=_strings(host, "Binds", "HostConfig."),
        mounts=_mounts(_typed(host, "Mounts", list, "HostConfig.") or []),
        tmpfs=[f"{k}:{v}" if v else k
               for k, v in (_typed(host, "Tmpfs", dict, "HostConfig.") or {}).items()],
        dns=_strings(host, "Dns", "HostConfig."),
        dns_search=_strings(host, "DnsSearch", "HostConfig."),
        dns_option=_strings(host, "DnsOptions", "HostConfig."),
        restart=_restart(_typed(host, "RestartPolicy", dict, "HostConfig.")),
        detach=True,
    )
    memory = _typed(host, "Memory", int, "HostConfig.")
    if memory:
        opts.memory = str(memory)
    nano = _typed(host, "NanoCpus", int, "HostConfig.")
    if nano:
        opts.cpus = nano / 1e9
    opts.create_command = ["docker-api", "create", json.dumps(image)]
    return opts
