"""pyman ps: the listing, its filters and columns.

No typer at run time here: cli/containers.py registers ps with typer (which reads its
annotations, strings naming typer and cv, in this module's namespace: containers.py puts
them in it first), and cli/fast.py calls it directly for the everyday command lines."""

from __future__ import annotations

import json
import shlex
import time
from typing import TYPE_CHECKING, Annotated, Any

from pyman.cli.humanize import ago, human_duration, table
from pyman.engine.containers.filters import state_name

if TYPE_CHECKING:
    import typer

    from pyman.cli import complete_values as cv
    from pyman.engine.types import ContainerSummary

GO_ZERO_TIME = -62135596800  # Go's time.Time{}.Unix(), what Podman prints for "never"


def status_text(status: str, exit_code: int | None, started: float | None,
                finished: float | None, now: float, health: str = "") -> str:
    if status == "running":
        up = f"Up {human_duration(now - (started or now))}"
        return f"{up} ({health})" if health else up
    if status in ("exited", "restarting"):
        return f"Exited ({exit_code if exit_code is not None else -1}) " + ago(finished or now,
                                                                               now)
    return "Created"


def ps_json(c: ContainerSummary, now: float) -> dict[str, Any]:
    """The fields of Podman's `ps --format json`, in its order."""
    return {
        "AutoRemove": c.auto_remove,
        "Command": c.command,
        "CreatedAt": human_duration(now - c.created) + " ago",
        "Exited": c.status == "exited",
        "ExitedAt": int(c.finished_at) if c.finished_at else GO_ZERO_TIME,
        "ExitCode": c.exit_code or 0,
        "Id": c.id,
        "Image": c.image,
        "ImageID": c.image_id.removeprefix("sha256:"),
        "IsInfra": c.infra,
        "Labels": c.labels or None,
        "Mounts": [],
        "Names": [c.name],
        "Namespaces": {},
        "Networks": [],
        "Pid": c.pid if c.status == "running" else 0,
        "Pod": c.pod,
        "PodName": c.pod_name,
        "Ports": c.ports or None,
        "Size": None,
        "StartedAt": int(c.started_at) if c.started_at else GO_ZERO_TIME,
        "State": state_name(c.status),
        "Status": status_text(c.status, c.exit_code, c.started_at, c.finished_at, now, c.health),
        "Created": int(c.created),
    }


PS_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
              "CreatedAt": "CREATED AT", "Created": "CREATED", "RunningFor": "CREATED",
              "Status": "STATUS", "Ports": "PORTS", "State": "STATE"}


# Podman's --sort keys (pkg/domain/entities/container_ps.go)
SORT_KEYS: dict[str, Any] = {
    "command": lambda c: " ".join(c.command), "created": lambda c: c.created,
    "id": lambda c: c.id, "image": lambda c: c.image, "names": lambda c: c.name,
    "runningfor": lambda c: c.started_at or 0, "size": lambda c: 0,
    "status": lambda c: state_name(c.status),
}
PS_DEFAULT_FORMAT = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t"
                     "{{.Ports}}\t{{.Names}}")


def _span(first: int, n: int) -> str:
    return str(first) if n == 1 else f"{first}-{first + n - 1}"


def ports_column(ports: list[dict[str, Any]]) -> str:
    """Podman's PORTS: ``0.0.0.0:8080->80/tcp, 127.0.0.1:9000-9001->90-91/udp``."""
    return ", ".join(sorted(
        f"{p['host_ip'] or '0.0.0.0'}:{_span(p['host_port'], p['range'])}->"
        f"{_span(p['container_port'], p['range'])}/{p['protocol']}" for p in ports))


def ps_row(c: ContainerSummary, now: float, no_trunc: bool) -> dict[str, Any]:
    """The fields Podman's `ps --format` templates name ({{.Names}} {{.Status}} ...)."""
    doc = ps_json(c, now)
    doc.update({
        "ID": c.id if no_trunc else c.id[:12],
        "Names": c.name,
        "Command": shlex.join(c.command),
        "Created": ago(c.created, now),
        "RunningFor": human_duration(now - c.created),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c.created)),
        "Ports": ports_column(c.ports),
        "Label": c.labels,
        "Pod": c.pod if no_trunc else c.pod[:12],
    })
    return doc


def ps(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Show all containers.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only ids.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Full ids and commands.")
                        ] = False,
    last: Annotated[int, typer.Option("--last", "-n", help="The n last created.")] = -1,
    latest: Annotated[bool, typer.Option("--latest", "-l", help="The last created.")
                      ] = False,
    filters: Annotated[list[str] | None, typer.Option("--filter", "-f",
                                                      help="key=value")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json",
                                                   autocompletion=cv.formats)] = None,
    pod: Annotated[bool, typer.Option("--pod", "-p", help="Show the pod of each container.")
                   ] = False,
    noheading: Annotated[bool, typer.Option("--noheading", help="Do not print headers.")
                         ] = False,
    sort: Annotated[str | None, typer.Option(
        "--sort", help="Sort by command, created, id, image, names, runningfor or status.")
                    ] = None,
    external: Annotated[bool, typer.Option(
        "--external", help="Also show the containers of builds (Podman's external ones).")
                        ] = False,
) -> None:
    """List containers."""
    from pyman.cli.context import engine as make_engine

    if all_ and latest:
        from pyman.errors import PymanError

        raise PymanError("--all and --latest cannot be used together")
    if sort is not None and sort not in SORT_KEYS:
        from pyman.errors import PymanError

        raise PymanError("invalid option for --sort, options are: command, created, id, "
                         "image, names, runningfor, size, or status")
    from pyman.engine.containers.filters import listing

    items = listing(make_engine().containers, list(filters or []), all_,
                    1 if latest else last, external)
    items.reverse()  # newest first, as Podman lists them
    if sort is not None:  # Podman's sorts are ascending (created: oldest first)
        items.sort(key=SORT_KEYS[sort])
    if quiet:
        for c in items:
            print(c.id if no_trunc else c.id[:12])
        return
    now = time.time()
    if fmt == "json":
        print(json.dumps([ps_json(c, now) for c in items], indent=4))
        return
    if fmt or noheading:
        from pyman.cli.template import Template, render_list, tabwrite

        docs = [ps_row(c, now, no_trunc) for c in items]
        fmt = fmt or PS_DEFAULT_FORMAT
        if noheading:
            tpl = Template(fmt.lstrip().removeprefix("table").lstrip())
            out = tabwrite(line for d in docs for line in tpl.render(d).split("\n"))
        else:
            out = render_list(fmt, docs, PS_HEADERS)
        if out:
            print(out)
        return
    rows = []
    for c in items:
        cmd = shlex.join(c.command)
        if not no_trunc and len(cmd) > 20:
            cmd = cmd[:17] + "..."
        rows.append([c.id if no_trunc else c.id[:12], c.image, cmd, ago(c.created, now),
                     status_text(c.status, c.exit_code, c.started_at, c.finished_at, now, c.health),
                     ports_column(c.ports), c.name])
        if pod:
            rows[-1] += [c.pod if no_trunc else c.pod[:12], c.pod_name]
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    print(table(headers + (["POD ID", "PODNAME"] if pod else []), rows))
