"""pyman network create|ls|inspect|rm|prune|exists|connect|disconnect|reload, with Podman
4.3's output and errors."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage networks.")
app.add_typer(group, name="network")

HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER",
           "NetworkInterface": "NETWORK INTERFACE", "Created": "CREATED",
           "Subnets": "SUBNETS", "IPv6Enabled": "IPV6 ENABLED", "Internal": "INTERNAL",
           "DNSEnabled": "DNS ENABLED", "Labels": "LABELS", "Options": "OPTIONS",
           "IPAMOptions": "IPAM OPTIONS"}


def go_time(text: str) -> str:
    """RFC 3339 as Go prints a time.Time in a template (UTC: `... +0000 UTC`)."""
    if text.endswith("Z"):
        return text[:-1].replace("T", " ") + " +0000 UTC"
    return text


def go_view(doc: dict[str, Any], trunc: bool = False, ls: bool = False) -> dict[str, Any]:
    """The network as Go templates see it (libpod's types.Network field names); `ls` shows
    labels as k=v,k=v (Podman's list printer)."""
    labels = doc.get("labels") or {}
    return {"Name": doc.get("name", ""),
            "ID": str(doc.get("id", ""))[:12] if trunc else doc.get("id", ""),
            "Driver": doc.get("driver", ""),
            "NetworkInterface": doc.get("network_interface", ""),
            "Created": go_time(str(doc.get("created", ""))),
            "Subnets": [{"Subnet": s.get("subnet", ""), "Gateway": s.get("gateway", ""),
                         "LeaseRange": s.get("lease_range")} for s in doc.get("subnets") or []],
            "IPv6Enabled": bool(doc.get("ipv6_enabled")),
            "Internal": bool(doc.get("internal")),
            "DNSEnabled": bool(doc.get("dns_enabled")),
            "Labels": ",".join(f"{k}={v}" for k, v in labels.items()) if ls else labels,
            "Options": doc.get("options") or {},
            "IPAMOptions": doc.get("ipam_options") or {}}


@group.command("create", context_settings=CTX)
def create(
    name: Annotated[str | None, typer.Argument(help="Name of the network.")] = None,
    driver: Annotated[str, typer.Option("--driver", "-d", help="bridge (the only one).")
                      ] = "bridge",
    subnet: Annotated[list[str] | None, typer.Option("--subnet", help="CIDR subnet.")
                      ] = None,
    gateway: Annotated[list[str] | None, typer.Option("--gateway", help="Gateway address.")
                       ] = None,
    ip_range: Annotated[list[str] | None, typer.Option(
        "--ip-range", help="Hand out addresses from this CIDR only (one per --subnet).")
                        ] = None,
    internal: Annotated[bool, typer.Option("--internal", help="No route out.")] = False,
    disable_dns: Annotated[bool, typer.Option("--disable-dns", help="No aardvark-dns.")
                           ] = False,
    label: Annotated[list[str] | None, typer.Option("--label", help="key=value.")] = None,
    opt: Annotated[list[str] | None, typer.Option(
        "--opt", "-o", help="Bridge options: mtu=N, vlan=N.")] = None,
    ignore: Annotated[bool, typer.Option("--ignore", help="Do not fail if it exists.")
                      ] = False,
) -> None:
    """Create a network (netavark's JSON, in Podman's directory)."""
    from pyman.cli.context import engine as make_engine

    labels, options = {}, {}
    for item in label or []:
        key, _, value = item.partition("=")
        labels[key] = value
    for item in opt or []:
        key, _, value = item.partition("=")
        options[key] = value
    doc = make_engine().networks.create(
        name, driver=driver, subnets=subnet, gateways=gateway, internal=internal,
        dns=not disable_dns, labels=labels, ignore=ignore, options=options, ranges=ip_range)
    print(doc["name"])


def _ls(
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="name=, id=, driver=, label=")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json or a Go template.")
                   ] = None,
    noheading: Annotated[bool, typer.Option("--noheading", help="No header row.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Full network ids.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Names only.")] = False,
) -> None:
    """List networks."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.template import print_listing

    docs = make_engine().networks.ls(filters)
    if quiet:
        for d in docs:
            print(d["name"])
        return
    if fmt == "json":
        print(json.dumps(docs, indent=2))
        return
    views = [go_view(d, trunc=not no_trunc, ls=True) for d in docs]
    if not fmt:
        fmt = "table {{.ID}}\t{{.Name}}\t{{.Driver}}"
    print_listing(fmt, views, HEADERS, noheading)


group.command("ls", context_settings=CTX)(_ls)
group.command("list", context_settings=CTX, hidden=True)(_ls)


@group.command("inspect", context_settings=CTX)
def inspect(
    names: Annotated[list[str], typer.Argument(help="Networks.",
                                                       autocompletion=cv.network_names)],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="json or a Go template.")
                   ] = None,
) -> None:
    """Display the definition of one or more networks."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.template import Template

    report = make_engine().networks.inspect(names)
    docs = report.networks
    if fmt in (None, "", "json"):
        print(json.dumps(docs, indent=5))
    else:
        tpl = Template(fmt)
        for d in docs:
            print(tpl.render(go_view(d)))
    if report.error is not None:
        raise report.error


@group.command("rm", context_settings=CTX)
def rm(
    names: Annotated[list[str], typer.Argument(help="Networks.",
                                                       autocompletion=cv.network_names)],
    force: Annotated[bool, typer.Option(
        "--force", "-f", help="Also remove the containers that use them.")] = False,
    time_: Annotated[int, typer.Option("--time", "-t", help="Seconds to wait for running "
                                       "containers to stop before killing them.")] = 10,
) -> None:
    """Remove one or more networks."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import NetworkNotFoundError, PymanError

    networks = make_engine().networks
    code = 0
    for key in names:
        try:
            print(networks.remove(key, force=force, timeout=time_), flush=True)
        except NetworkNotFoundError as exc:
            if force:  # as Podman: --force on a network that is not there says nothing
                continue
            print(f"Error: {exc}", file=sys.stderr)
            code = 1  # as Podman: a network that is not there exits 1
        except PymanError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            code = exc.exit_code
    if code:
        raise typer.Exit(code)


@group.command("exists", context_settings=CTX)
def exists(name: Annotated[str, typer.Argument(help="Network.",
                                                autocompletion=cv.network_names)]) -> None:
    """Exit 0 if the network exists, 1 if not."""
    from pyman.cli.context import engine as make_engine

    raise typer.Exit(0 if make_engine().networks.exists(name) else 1)


@group.command("prune", context_settings=CTX)
def prune(
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask.")] = False,
    filters: Annotated[list[str] | None, typer.Option("--filter", help="label=")] = None,
) -> None:
    """Remove the networks no container uses (never the default one)."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.network.service import parse_filters
    from pyman.errors import PymanError

    wanted = parse_filters(filters or [])  # a bad filter is said before the question
    if set(wanted) - {"label"}:
        raise PymanError(f'invalid filter "{next(k for k in wanted if k != "label")}"')
    if not force:
        print("WARNING! This will remove all networks not used by at least one container.")
        print("Are you sure you want to continue? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline()
        if answer.strip().lower() not in ("y", "yes"):
            return
    for name in make_engine().networks.prune(filters):
        print(name, flush=True)


@group.command("connect", context_settings=CTX)
def connect(
    network: Annotated[str, typer.Argument(help="Network.",
                                           autocompletion=cv.network_names)],
    container: Annotated[str, typer.Argument(help="Container.",
                                             autocompletion=cv.containers)],
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", help="Another name for the container on this network.")] = None,
) -> None:
    """Connect a container to a network (a running one at once)."""
    from pyman.cli.context import engine as make_engine

    make_engine().networks.connect(network, container, alias)


@group.command("disconnect", context_settings=CTX)
def disconnect(
    network: Annotated[str, typer.Argument(help="Network.",
                                           autocompletion=cv.network_names)],
    container: Annotated[str, typer.Argument(help="Container.",
                                             autocompletion=cv.containers)],
    force: Annotated[bool, typer.Option("--force", "-f", help="Accepted (as Podman).")
                     ] = False,
) -> None:
    """Disconnect a container from a network (a running one at once)."""
    from pyman.cli.context import engine as make_engine

    make_engine().networks.disconnect(network, container)


@group.command("reload", context_settings=CTX)
def reload(
    containers: Annotated[list[str] | None, typer.Argument(
        help="Containers.", autocompletion=cv.containers)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Every running container on "
                                       "networks.")] = False,
) -> None:
    """Make a running container's interfaces and firewall rules on its networks again."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    networks = make_engine().networks
    if all_:
        keys = networks.reloadable()
    elif containers:
        keys = list(containers)
    else:
        raise PymanError("reload requires at least one container, or --all")
    failed: PymanError | None = None
    for key in keys:
        try:
            print(networks.reload(key), flush=True)
        except PymanError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            failed = exc
    if failed is not None:
        raise typer.Exit(failed.exit_code)
