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


def _network(mode: str | None, endpoints: dict[str, Any]) -> tuple[str | None, list[str]]:
    """HostConfig.NetworkMode and NetworkingConfig.EndpointsConfig (what docker-compose
    sends: the project's network with the service's name as an alias) as --network in
    Podman's syntax: the first network with its options, the others as more --network."""
    endpoints = {k: v for k, v in endpoints.items() if k not in ("default", "bridge")}
    if mode in (None, "", "default", "bridge") and not endpoints:
        return None, []  # the default rootless network (Docker's "bridge")
    if mode and (mode in ("host", "none") or mode.startswith(("container:", "ns:"))
                 or not endpoints):
        return mode, []
    names = list(endpoints)
    if mode and mode not in ("default", "bridge") and mode in names:
        names.remove(mode)
        names.insert(0, mode)
    elif mode and mode not in ("default", "bridge"):
        names.insert(0, mode)
    specs = [_endpoint(name, endpoints.get(name) or {}) for name in names]
    return (specs[0], specs[1:]) if specs else (None, [])


def _endpoint(name: str, conf: Any) -> str:
    """One network with its EndpointSettings: Aliases, IPAMConfig.IPv4Address,
    MacAddress."""
    where = f"NetworkingConfig.EndpointsConfig.{name}."
    if not isinstance(conf, dict):
        raise BadRequest(f"{where[:-1]}: an object is expected")
    opts = [f"alias={a}" for a in _strings(conf, "Aliases", where)]
    ipam = _typed(conf, "IPAMConfig", dict, where) or {}
    ip = _typed(ipam, "IPv4Address", str, f"{where}IPAMConfig.")
    if ip:
        opts.append(f"ip={ip}")
    mac = _typed(conf, "MacAddress", str, where)
    if mac:
        opts.append(f"mac={mac}")
    return f"{name}:{','.join(opts)}" if opts else name


def _anonymous(volumes: Any, binds: list[str], mounts: list[str]) -> list[str]:
    """Config.Volumes {"/data": {}}: an anonymous volume at each path no bind or mount
    already covers (Docker's rule)."""
    if volumes is None:
        return []
    if not isinstance(volumes, dict):
        raise BadRequest("Volumes: an object {\"/path\": {}} is expected")
    taken = {(b.split(":") * 2)[1] for b in binds}  # SRC:DST[:OPT] or just DST
    taken |= {part.partition("=")[2] for m in mounts for part in m.split(",")
              if part.startswith("target=")}
    return [str(path) for path in volumes if str(path) not in taken]


def _health(check: dict[str, Any] | None) -> Any:
    """Config.Healthcheck (Test, Interval/Timeout/StartPeriod in ns, Retries) as the
    --health-* options; Test ["NONE"] is --no-healthcheck, no Test keeps the image's."""
    from pyman.engine.health.config import HealthOptions

    if check is None:
        return None
    test = _strings(check, "Test", "Healthcheck.")
    if test[:1] == ["NONE"]:
        return HealthOptions(disabled=True)

    def duration(key: str) -> str | None:
        ns = _typed(check, key, int, "Healthcheck.")
        return f"{ns}ns" if ns else None

    return HealthOptions(cmd=json.dumps(test) if test else None, interval=duration("Interval"),
                         retries=_typed(check, "Retries", int, "Healthcheck.") or None,
                         start_period=duration("StartPeriod"), timeout=duration("Timeout"))


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
    netconf = _typed(body, "NetworkingConfig", dict, "") or {}
    network, extra = _network(_typed(host, "NetworkMode", str, "HostConfig."),
                              _typed(netconf, "EndpointsConfig", dict, "NetworkingConfig.")
                              or {})
    binds = _strings(host, "Binds", "HostConfig.")
    mounts = _mounts(_typed(host, "Mounts", list, "HostConfig.") or [])
    opts = RunOptions(
        image=image, command=command, name=name or None, entrypoint=entrypoint,
        env=_strings(body, "Env", ""), labels={str(k): str(v) for k, v in labels.items()},
        workdir=_typed(body, "WorkingDir", str, "") or None,
        user=_typed(body, "User", str, "") or None,
        hostname=_typed(body, "Hostname", str, "") or None,
        tty=bool(body.get("Tty")), interactive=bool(body.get("OpenStdin")),
        stop_signal=_typed(body, "StopSignal", str, "") or None,
        stop_timeout=_typed(body, "StopTimeout", int, ""),
        rm=bool(host.get("AutoRemove")), network=network, network_extra=extra,
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
        volumes=binds + _anonymous(body.get("Volumes"), binds, mounts), mounts=mounts,
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
    opts.health = _health(_typed(body, "Healthcheck", dict, ""))
    opts.create_command = ["docker-api", "create", json.dumps(image)]
    return opts
