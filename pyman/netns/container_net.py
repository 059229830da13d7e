"""A container's place on user-defined networks, as its monitor keeps it: addresses and the
files naming them, netavark setup before the runtime creates, teardown at the end, and its
share of the rootless netns given back (netns/netavark.py, netns/rootless_netns.py).

Stdlib only: the monitor imports it for containers on networks.
"""

from __future__ import annotations

import os

from pyman.errors import PymanError
from pyman.netns import netavark, rootless_netns
from pyman.netns.helpers import new_netns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyman.monitor.protocol import MonitorConfig


class Plug:
    def __init__(self, cfg: MonitorConfig, run_dir: str) -> None:
        self.cfg, self.run_dir, self.cid = cfg, run_dir, str(cfg["id"])
        self.nv: dict[str, Any] = cfg["netavark"]
        self.netns = os.path.join(run_dir, "netns")
        self.ips: dict[str, str] = {}
        self.up = False  # set up (or half set up): to be torn down
        self.ended = False  # the rootless netns ended with this, its last container

    def files(self) -> tuple[list[str], str | None]:
        """(its addresses, resolv.conf text or None): handed out now, so that hosts and
        resolv.conf can name them."""
        self.ips = netavark.allocate(self.nv, self.cid)
        return list(self.ips.values()), netavark.resolv_conf(self.nv)

    def setup(self) -> str:
        """The container's netns made and plugged in; its first address."""
        from pyman.storage.atomic import write_json

        new_netns(self.netns)
        self.ips = netavark.allocate(self.nv, self.cid)  # a restart: the same ones
        self.up = True
        status = netavark.run(self.nv, "setup", self.netns,
                              netavark.options(self.nv, self.cid, self.cfg["name"], self.ips))
        write_json(os.path.join(self.run_dir, "networks.json"), status, sync=False)
        return self.ips[next(iter(self.nv["networks"]))]

    def teardown(self, created: bool) -> None:
        """netavark teardown for the networks the container has by now (connect and
        disconnect rewrite monitor.json while it runs); failures only noted."""
        if not (self.up or (created and os.path.exists(self.netns) and not self.ended)):
            return
        self.up = False
        from pyman.storage.atomic import read_json

        try:
            fresh = read_json(os.path.join(self.run_dir, "monitor.json"))
        except (OSError, ValueError):
            fresh = None  # torn: what this monitor started with
        nv = fresh["netavark"] if isinstance(fresh, dict) and isinstance(
            fresh.get("netavark"), dict) else self.nv
        if not nv["networks"]:
            return
        try:
            netavark.run(nv, "teardown", self.netns, netavark.options(
                nv, self.cid, self.cfg["name"], netavark.allocate(nv, self.cid)))
        except PymanError as exc:  # the namespace may be gone already: note it, go on
            with open(os.path.join(self.run_dir, "net.log"), "a") as f:
                f.write(f"{exc}\n")

    def end_if_last(self) -> None:
        """The last container out: the whole namespace goes (bridge, rules, aardvark-dns
        with it), so netavark's teardown (~150 ms: it waits for aardvark-dns to exit) would
        undo what is about to vanish anyway."""
        if rootless_netns.end_if_last(self.nv["runtime"], self.cid):
            self.up, self.ended = False, True

    def finish(self) -> None:
        """Its addresses, and its share of the netns (the last one out ends it)."""
        netavark.free(self.nv, self.cid)
        rootless_netns.release(self.nv["runtime"], self.cid)
