"""User-defined networks as the engine's verbs: create, list (Podman's filters), inspect,
remove (with the containers using them on force), prune, connect, disconnect, reload. The
definitions are netavark's JSON documents (Podman's directory), returned as they are."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyman.errors import NetworkInUseError, NetworkNotFoundError, PymanError
from pyman.netns.networks import DEFAULT_NAME as DEFAULT_NAME  # Podman's default network

if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService
    from pyman.netns.networks import NetworkStore

Network = dict[str, Any]  # netavark's definition: name, id, driver, subnets, labels ...
FILTERS = ("name", "id", "driver", "label")


def network_store() -> NetworkStore:
    """The definitions (Podman's directory, under its lock)."""
    from pyman.netns.networks import NetworkStore

    return NetworkStore()


def parse_filters(filters: list[str]) -> dict[str, list[str]]:
    """``--filter key=value`` words: one key's values are alternatives."""
    out: dict[str, list[str]] = {}
    for item in filters:
        key, eq, value = item.partition("=")
        if not eq or key not in FILTERS:
            raise PymanError(f'invalid filter "{key}"')
        out.setdefault(key, []).append(value)
    return out


def matches(doc: Network, filters: dict[str, list[str]]) -> bool:
    """Podman's rules: one key's values are alternatives, different keys all apply; name
    and id are regular expressions."""

    def regex(pattern: str, text: str) -> bool:
        try:
            return re.search(pattern, text) is not None
        except re.error as exc:
            raise PymanError(f"invalid filter regular expression {pattern!r}: {exc}") from None

    for key, values in filters.items():
        if key == "name" and not any(regex(v, doc["name"]) for v in values):
            return False
        if key == "id" and not any(regex(v, doc.get("id", "")) for v in values):
            return False
        if key == "driver" and doc.get("driver") not in values:
            return False
        if key == "label":
            labels = doc.get("labels") or {}
            if not any(labels.get(k) == v if sep else k in labels
                       for k, sep, v in (x.partition("=") for x in values)):
                return False
    return True


@dataclass
class InspectReport:
    """The definitions found, and the error of the last name that was not (Podman prints
    what it found, then fails)."""

    networks: list[Network] = field(default_factory=list)
    error: PymanError | None = None


class NetworkService:
    def __init__(self, containers: Callable[[], ContainerService]) -> None:
        self._containers = containers  # built only when a verb needs the containers

    @property
    def store(self) -> NetworkStore:
        return network_store()

    def create(self, name: str | None, *, driver: str = "bridge",
               subnets: list[str] | None = None, gateways: list[str] | None = None,
               ranges: list[str] | None = None, internal: bool = False, dns: bool = True,
               labels: dict[str, str] | None = None, options: dict[str, str] | None = None,
               ignore: bool = False) -> Network:
        """Without a name, Podman's next free ``podmanN``."""
        store = self.store
        if not name:
            taken = {n["name"] for n in store.all()}
            name = next(f"podman{i}" for i in range(1, 100000) if f"podman{i}" not in taken)
        return store.create(name, driver=driver, subnets=subnets, gateways=gateways,
                            internal=internal, dns=dns, labels=labels or {}, ignore=ignore,
                            options=options or {}, ranges=ranges)

    def ls(self, filters: list[str] | None = None) -> list[Network]:
        wanted = parse_filters(filters or [])
        return [d for d in self.store.all() if matches(d, wanted)]

    def inspect(self, names: list[str]) -> InspectReport:
        store = self.store
        report = InspectReport()
        for name in names:
            try:
                report.networks.append(store.find(name))
            except NetworkNotFoundError as exc:
                report.error = PymanError(f"inspecting object: network {name}: {exc}")
        return report

    def exists(self, name: str) -> bool:
        return self.store.exists(name)

    def names(self) -> list[str]:
        return [d["name"] for d in self.store.all()]

    def users(self, name: str) -> list[str]:
        """Ids of the containers on the network."""
        from pyman.engine.network.user_networks import users

        return [c.id for c in users(self._containers(), name)]

    def remove(self, key: str, *, force: bool = False, timeout: int = 10) -> str:
        """The network's name, once removed; ``force`` removes its containers first.
        NetworkNotFoundError when there is none (the caller decides what that exits)."""
        store = self.store
        net = store.find(key)
        using = self.users(net["name"])
        if using and not force:
            raise NetworkInUseError(f'"{net["name"]}" has associated containers with it. Use '
                                    "-f to forcibly delete containers and pods: network is "
                                    "being used")
        for cid in using:
            self._containers().remove(cid, force=True, timeout=timeout)
        return store.remove(net["name"])

    def prune(self, filters: list[str] | None = None,
              keep: Callable[[Network], bool] | None = None) -> list[str]:
        """Remove the networks no container uses, never the default one; ``filters`` as
        list's (label= only), ``keep`` spares what it says (system prune's filters)."""
        wanted = parse_filters(filters or [])
        if set(wanted) - {"label"}:
            raise PymanError(f'invalid filter "{next(k for k in wanted if k != "label")}"')
        store = self.store
        removed = []
        for doc in store.all():
            if (doc["name"] == DEFAULT_NAME or not matches(doc, wanted)
                    or (keep is not None and keep(doc)) or self.users(doc["name"])):
                continue
            removed.append(store.remove(doc["name"]))
        return removed

    def connect(self, network: str, container: str, aliases: list[str] | None = None) -> None:
        from pyman.engine.network.connect import connect

        connect(self._containers(), network, container, list(aliases or []))

    def disconnect(self, network: str, container: str) -> None:
        from pyman.engine.network.connect import disconnect

        disconnect(self._containers(), network, container)

    def reloadable(self) -> list[str]:
        """``reload --all``: every running container on networks."""
        svc = self._containers()
        return [c.id for c in svc.store.all() if c.network == "netavark" and c.networks
                and svc.live_state(c.id).status == "running"]

    def reload(self, container: str) -> str:
        """Make the container's interfaces again; its id."""
        from pyman.engine.network.connect import reload

        return reload(self._containers(), container)
