"""User-defined networks, the pure parts: definitions (subnets, names, errors, files), the
netavark options JSON, resolv.conf, ls filters, and the aardvark-dns pid check."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import pytest

from pyman.cli.network import go_time, go_view
from pyman.engine.network.service import matches, parse_filters
from pyman.errors import NetworkNotFoundError, PymanError
from pyman.netns import is_named, netavark
from pyman.netns.networks import NetworkStore, free_subnet


def test_is_named_tells_networks_from_modes() -> None:
    for mode in (None, "", "pasta", "slirp4netns", "host", "none", "bridge", "private",
                 "container:db", "ns:/run/netns/x"):
        assert not is_named(mode), mode
    for name in ("n1", "podman", "a,b", "my.net"):
        assert is_named(name), name


def test_free_subnet_skips_what_is_used() -> None:
    used = [ipaddress.IPv4Network("10.89.0.0/24"), ipaddress.IPv4Network("10.89.1.128/25"),
            ipaddress.IPv4Network("10.89.0.0/23")]
    assert str(free_subnet([])) == "10.89.0.0/24"
    assert str(free_subnet(used)) == "10.89.2.0/24"
    assert str(free_subnet([ipaddress.IPv4Network("10.89.0.0/16")])) == "10.90.0.0/24"


def test_store_create_find_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyman.netns.networks.host_subnets", lambda: [
        ipaddress.IPv4Network("10.89.0.0/24")])  # as if the host routed the first one
    store = NetworkStore(tmp_path / "nets")
    # "an", not "a": a name that is no hex prefix, or find("a") may match b by its id
    a = store.create("an")
    assert a["subnets"] == [{"subnet": "10.89.1.0/24", "gateway": "10.89.1.1"}]
    assert a["network_interface"] == "podman1" and a["dns_enabled"] is True
    text = (tmp_path / "nets" / "an.json").read_text()
    assert text == json.dumps(a, indent=5)  # Go's MarshalIndent with 5 spaces
    assert oct(os.stat(tmp_path / "nets").st_mode & 0o777) == "0o700"
    b = store.create("b", subnets=["10.7.0.5/16"], internal=True, dns=False,
                     labels={"k": "v"})
    assert b["subnets"] == [{"subnet": "10.7.0.0/16", "gateway": "10.7.0.1"}]
    assert (b["internal"], b["dns_enabled"], b["labels"]) == (True, False, {"k": "v"})
    assert store.find(b["id"][:6])["name"] == "b"
    assert store.create("an", ignore=True)["id"] == a["id"]
    bad = {"dup": ("an", {}), "overlap": ("c", {"subnets": ["10.7.3.0/24"]}),
           "name": ("-x", {}), "gw": ("c", {"subnets": ["10.8.0.0/24"],
                                              "gateways": ["10.9.0.1"]}),
           "cidr": ("c", {"subnets": ["10.8.0.0/40"]}), "macvlan": ("c", {"driver": "macvlan"})}
    for why, (name, kw) in bad.items():
        with pytest.raises(PymanError):
            store.create(name, **kw)  # type: ignore[arg-type]
        assert sorted(p.name for p in (tmp_path / "nets").glob("*.json")) == \
            ["an.json", "b.json"], why
    assert store.remove("an") == "an"
    with pytest.raises(NetworkNotFoundError, match="unable to find network with name or ID an"):
        store.find("an")
    with pytest.raises(PymanError, match="default network podman cannot be removed"):
        store.remove("podman")
    assert [n["name"] for n in store.all()] == ["b", "podman"]


def test_netavark_options_isolate_and_filter() -> None:
    nv = {"networks": {"n1": {"aliases": ["db", "abc"], "interface_name": "eth0"},
                       "n2": {"aliases": ["abc"], "interface_name": "eth1"}},
          "network_info": {"n1": {"name": "n1", "subnets": [{"subnet": "10.89.0.0/24",
                                                             "gateway": "10.89.0.1"}],
                                  "dns_enabled": True},
                           "n2": {"name": "n2", "subnets": [{"subnet": "10.89.1.0/24",
                                                             "gateway": "10.89.1.1"}],
                                  "dns_enabled": False, "options": {"isolate": "false"}}}}
    opts = netavark.options(nv, "cid", "web", {"n1": "10.89.0.2", "n2": "10.89.1.2"})
    assert opts["networks"]["n1"] == {"interface_name": "eth0", "static_ips": ["10.89.0.2"],
                                      "aliases": ["db", "abc"]}
    assert opts["network_info"]["n1"]["options"] == {"isolate": "true"}
    assert opts["network_info"]["n2"]["options"] == {"isolate": "false"}  # its own wins
    one = netavark.options(nv, "cid", "web", {"n2": "10.89.1.2"})  # connect/disconnect
    assert list(one["networks"]) == ["n2"] and list(one["network_info"]) == ["n2"]
    resolv = netavark.resolv_conf(nv)
    assert resolv is not None and "nameserver 10.89.0.1\n" in resolv
    assert resolv.startswith("search dns.podman") and "10.89.1.1" not in resolv
    nv["network_info"]["n1"]["dns_enabled"] = False
    assert netavark.resolv_conf(nv) is None


def test_ls_filters_and_go_views() -> None:
    doc = {"name": "web-net", "id": "abcdef0123", "driver": "bridge",
           "labels": {"team": "a", "x": "1"}, "created": "2026-12-03T14:20:16.09775Z"}
    assert matches(doc, parse_filters(["name=^web", "name=nomatch"]))
    assert not matches(doc, parse_filters(["name=^web", "driver=macvlan"]))
    assert matches(doc, parse_filters(["label=team=a", "id=^abc"]))
    assert not matches(doc, parse_filters(["label=team=b"]))
    assert matches(doc, parse_filters(["label=x"]))
    with pytest.raises(PymanError, match='invalid filter "foo"'):
        parse_filters(["foo=bar"])
    assert go_view(doc, trunc=True)["ID"] == "abcdef0123"[:12]
    assert go_view(doc, ls=True)["Labels"] == "team=a,x=1"
    assert go_time("2026-12-03T14:20:16.09775Z") == "2026-12-03 14:20:16.09775 +0000 UTC"


def test_a_dead_aardvark_pid_file_is_forgotten(tmp_path: Path) -> None:
    adir = tmp_path / "aardvark-dns"
    adir.mkdir()
    pid_file = adir / "aardvark.pid"
    pid_file.write_text(str(os.getpid()))  # alive, but not aardvark-dns: a reused pid
    netavark.forget_dead_aardvark(str(tmp_path))
    assert not pid_file.exists()
