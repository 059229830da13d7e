"""Networks: list, inspect, create, delete, connect, disconnect, prune, over the engine's
user-defined networks (netavark's definitions, shared with Podman).

Shapes are Docker's NetworkResource as Podman's compat API gives it: Podman's default
network `podman` is called `bridge` here (Docker's name for it), and `bridge` in a path
names it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyman.api.common import blocking, body, engine, filters, flag, number
from pyman.api.errors import ApiError, BadRequest, Handler
from pyman.engine import Engine

BRIDGE = "bridge"  # Docker's name for the default network


def _store() -> Any:
    from pyman.engine.network.service import network_store

    return network_store()


def _find(key: str) -> dict[str, Any]:
    from pyman.engine.network.service import DEFAULT_NAME
    from pyman.errors import NetworkNotFoundError

    try:
        return dict(_store().find(DEFAULT_NAME if key == BRIDGE else key))
    except NetworkNotFoundError:
        raise ApiError(404, f"network {key} not found") from None


def _endpoints(eng: Engine, name: str) -> dict[str, Any]:
    """The running containers on the network, with their addresses (Docker lists
    endpoints, which exist while a container runs)."""
    from pyman.engine.containers.inspect import _networks

    svc = eng.containers
    out: dict[str, Any] = {}
    for c in svc.store.all():
        if name not in c.networks or svc.store.state(c.id).status != "running":
            continue
        net = _networks(c, str(svc.store.run_dir(c.id)), True)["Networks"][name]
        out[c.id] = {"Name": c.name, "EndpointID": net["EndpointID"],
                     "MacAddress": net["MacAddress"],
                     "IPv4Address": (f"{net['IPAddress']}/{net['IPPrefixLen']}"
                                     if net["IPAddress"] else ""),
                     "IPv6Address": ""}
    return out


def _resource(eng: Engine, doc: dict[str, Any]) -> dict[str, Any]:
    from pyman.engine.network.service import DEFAULT_NAME

    ipam = dict(doc.get("ipam_options") or {})
    driver = ipam.get("driver", "")
    return {
        "Name": BRIDGE if doc["name"] == DEFAULT_NAME else doc["name"],
        "Id": doc.get("id", ""), "Created": doc.get("created", ""), "Scope": "local",
        "Driver": doc.get("driver", "bridge"), "EnableIPv6": bool(doc.get("ipv6_enabled")),
        "IPAM": {"Driver": "default" if driver == "host-local" else driver,
                 "Options": ipam,
                 "Config": [{"Subnet": s.get("subnet", ""), "Gateway": s.get("gateway", "")}
                            for s in doc.get("subnets") or []]},
        "Internal": bool(doc.get("internal")), "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": _endpoints(eng, doc["name"]),
        "Options": dict(doc.get("options") or {}), "Labels": dict(doc.get("labels") or {}),
    }


def _matches(doc: dict[str, Any], wanted: dict[str, list[str]]) -> bool:
    """Docker's network filters: one key's values are alternatives, keys all apply."""
    from pyman.engine.network.service import DEFAULT_NAME

    name = BRIDGE if doc["name"] == DEFAULT_NAME else str(doc["name"])
    labels = doc.get("labels") or {}
    for key, values in wanted.items():
        if key == "name":
            ok = any(v in name or v == doc["name"] for v in values)
        elif key == "id":
            ok = any(str(doc.get("id", "")).startswith(v) for v in values)
        elif key == "driver":
            ok = doc.get("driver") in values
        elif key == "label":
            ok = all(labels.get(k) == v if eq else k in labels
                     for k, eq, v in (x.partition("=") for x in values))
        elif key == "type":
            kind = "builtin" if doc["name"] == DEFAULT_NAME else "custom"
            ok = kind in values
        elif key == "scope":
            ok = "local" in values
        else:
            raise BadRequest(f"filters: invalid filter {key!r} (name, id, driver, label, "
                             "type, scope)")
        if not ok:
            return False
    return True


async def list_networks(request: web.Request) -> web.Response:
    eng = engine(request)
    wanted = filters(request)

    def work() -> list[dict[str, Any]]:
        return [_resource(eng, d) for d in _store().all() if _matches(d, wanted)]

    return web.json_response(await blocking(work))


async def inspect(request: web.Request) -> web.Response:
    eng = engine(request)
    key = request.match_info["id"]
    scope = request.query.get("scope")
    if scope not in (None, "", "local"):
        raise ApiError(404, f"network {key} not found in scope {scope}")
    return web.json_response(await blocking(lambda: _resource(eng, _find(key))))


def _create_args(doc: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """A NetworkCreateRequest as NetworkStore.create's arguments, and the warning for
    options pyman does not use."""
    name = doc.get("Name")
    if not isinstance(name, str) or not name:
        raise BadRequest("Name: a string naming the network is required")
    driver = doc.get("Driver") or "bridge"
    if not isinstance(driver, str):
        raise BadRequest("Driver: a string is expected")
    if doc.get("EnableIPv6"):
        raise BadRequest("EnableIPv6: IPv6 networks are not supported by pyman yet")
    options: dict[str, str] = {}
    ignored = []
    for key, value in (doc.get("Options") or {}).items():
        if key in ("mtu", "com.docker.network.driver.mtu"):
            options["mtu"] = str(value)
        elif key in ("vlan",):
            options["vlan"] = str(value)
        else:
            ignored.append(f'"{key}: {value}" is not a recognized option')
    subnets: list[str] = []
    gateways: list[str] = []
    ranges: list[str] = []
    ipam = doc.get("IPAM") or {}
    if not isinstance(ipam, dict):
        raise BadRequest("IPAM: an object is expected")
    for i, conf in enumerate(ipam.get("Config") or []):
        if not isinstance(conf, dict) or not conf.get("Subnet"):
            raise BadRequest(f"IPAM.Config[{i}]: a Subnet is required")
        subnets.append(str(conf["Subnet"]))
        if conf.get("Gateway"):
            if len(gateways) != i:
                raise BadRequest(f"IPAM.Config[{i}]: give every earlier subnet a Gateway too")
            gateways.append(str(conf["Gateway"]))
        if conf.get("IPRange"):
            if len(ranges) != i:
                raise BadRequest(f"IPAM.Config[{i}]: give every earlier subnet an IPRange "
                                 "too")
            ranges.append(str(conf["IPRange"]))
    labels = doc.get("Labels") or {}
    if not isinstance(labels, dict):
        raise BadRequest("Labels: an object is expected")
    return name, {"driver": driver, "subnets": subnets or None, "gateways": gateways or None,
                  "ranges": ranges or None, "internal": bool(doc.get("Internal")),
                  "labels": {str(k): str(v) for k, v in labels.items()},
                  "options": options}, "; ".join(ignored)


async def create(request: web.Request) -> web.Response:
    doc = await body(request)
    if not isinstance(doc, dict):
        raise BadRequest("the request body must be a JSON object")
    name, kwargs, warning = _create_args(doc)

    def work() -> str:
        store = _store()
        if store.exists(name):
            raise ApiError(409, f"network with name {name} already exists")
        return str(store.create(name, **kwargs)["id"])

    return web.json_response({"Id": await blocking(work), "Warning": warning}, status=201)


def _remove(eng: Engine, key: str, force: bool, timeout: int) -> str:
    from pyman.engine.network.service import DEFAULT_NAME
    from pyman.engine.network.user_networks import users

    net = _find(key)
    if net["name"] == DEFAULT_NAME:
        raise ApiError(403, f"{key} is a pre-defined network and cannot be removed")
    using = users(eng.containers, net["name"])
    if using and not force:
        names = ", ".join(c.name for c in using)
        raise ApiError(403, f"error while removing network: network {net['name']} id "
                            f"{net['id']} has active endpoints ({names})")
    for c in using:
        eng.containers.remove(c.id, force=True, timeout=timeout)
    return str(_store().remove(net["name"]))


async def delete(request: web.Request) -> web.Response:
    eng = engine(request)
    key = request.match_info["id"]
    force = flag(request, "force")
    timeout = number(request, "timeout", 10) or 0
    await blocking(_remove, eng, key, force, timeout)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    from pyman.engine.volumes.operations import parse_when

    eng = engine(request)
    wanted = filters(request)
    until = wanted.pop("until", [])
    for key in wanted:
        if key != "label":
            raise BadRequest(f"filters: invalid filter {key!r} (label, until)")

    def work() -> list[str]:
        from pyman.engine.network.service import DEFAULT_NAME
        from pyman.engine.network.user_networks import users
        from pyman.engine.system.events import time_ns

        removed = []
        for doc in _store().all():
            if doc["name"] == DEFAULT_NAME or not _matches(doc, wanted):
                continue
            if until and doc.get("created"):
                created = time_ns(str(doc["created"]))[0] / 1e9
                if not all(created < parse_when(u) for u in until):
                    continue
            if users(eng.containers, doc["name"]):
                continue
            removed.append(str(_store().remove(doc["name"])))
        return removed

    return web.json_response({"NetworksDeleted": await blocking(work)})


def _container_key(doc: Any) -> str:
    if not isinstance(doc, dict) or not isinstance(doc.get("Container"), str) \
            or not doc["Container"]:
        raise BadRequest("Container: a string naming the container is required")
    return str(doc["Container"])


async def connect(request: web.Request) -> web.Response:
    from pyman.engine.network.connect import connect as do_connect

    eng = engine(request)
    doc = await body(request)
    key = _container_key(doc)
    endpoint = doc.get("EndpointConfig") or {}
    if not isinstance(endpoint, dict):
        raise BadRequest("EndpointConfig: an object is expected")
    aliases = endpoint.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise BadRequest("EndpointConfig.Aliases: a list of strings is expected")
    ipam = endpoint.get("IPAMConfig") or {}
    if endpoint.get("IPAddress") or (isinstance(ipam, dict) and (
            ipam.get("IPv4Address") or ipam.get("IPv6Address"))):
        raise BadRequest("EndpointConfig: pyman gives an address at connect itself (a "
                         "static one is set at create: NetworkingConfig)")
    net = await blocking(_find, request.match_info["id"])

    def work() -> None:
        c = eng.containers.store.find(key)
        if c.network != "netavark":
            raise ApiError(403, f"container {c.name} is not on user-defined networks (network "
                                f"mode {c.network.split(':')[0]}): it cannot be connected")
        do_connect(eng.containers, str(net["name"]), c.id, _short_aliases(aliases, c.id))

    await blocking(work)
    return web.Response(status=200)


def _short_aliases(aliases: list[str], cid: str) -> list[str]:
    """Docker clients send the short id as an alias; pyman adds it itself."""
    return [a for a in aliases if a != cid[:12]]


async def disconnect(request: web.Request) -> web.Response:
    from pyman.engine.network.connect import disconnect as do_disconnect

    eng = engine(request)
    key = _container_key(await body(request))
    net = await blocking(_find, request.match_info["id"])

    def work() -> None:
        c = eng.containers.store.find(key)
        if str(net["name"]) not in c.networks:
            raise ApiError(403, f"container {c.name} is not connected to network "
                                f"{net['name']}")
        do_disconnect(eng.containers, str(net["name"]), c.id)

    await blocking(work)
    return web.Response(status=200)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/networks", list_networks), ("GET", "/networks/{id}", inspect),
    ("POST", "/networks/create", create), ("POST", "/networks/prune", prune),
    ("DELETE", "/networks/{id}", delete),
    ("POST", "/networks/{id}/connect", connect),
    ("POST", "/networks/{id}/disconnect", disconnect),
]
