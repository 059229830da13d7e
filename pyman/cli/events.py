"""pyman events (and `system events`): the events log in Podman's shapes."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


class GoTime:
    """An event's time as Go's time.Time String() prints it (templates' {{.Time}})."""

    def __init__(self, ns: int, off: int) -> None:
        self.ns, self.off = ns, off

    def __str__(self) -> str:
        secs, frac = divmod(self.ns, 1_000_000_000)
        local = time.localtime(secs)
        if self.off == (local.tm_gmtoff or 0):  # Go: the local zone, named
            tm, zone = local, local.tm_zone or "UTC"
        else:
            tm, zone = time.gmtime(secs + self.off), ""
        if self.off == 0 and not zone:
            zone = "UTC"
        sign = "+" if self.off >= 0 else "-"
        num = f"{sign}{abs(self.off) // 3600:02d}{abs(self.off) % 3600 // 60:02d}"
        text = time.strftime("%Y-%m-%d %H:%M:%S", tm)
        if frac:
            text += "." + f"{frac:09d}".rstrip("0")
        return f"{text} {num} {zone or num}"


def human(ev: dict[str, Any], trunc: bool) -> str:
    """Podman's ToHumanReadable."""
    when = GoTime(ev["_ns"], ev["_off"])
    kind, status = ev.get("Type", ""), ev.get("Status", "")
    eid = str(ev.get("ID") or "")
    if trunc:
        eid = eid[:12]
    name = ev.get("Name") or ""
    if kind in ("container", "pod"):
        text = f"{when} {kind} {status} {eid} (image={ev.get('Image') or ''}, name={name}"
        if ev.get("PodID"):
            text += f", pod_id={ev['PodID']}"
        if ev.get("health_status"):
            text += f", health_status={ev['health_status']}"
        for k, v in (ev.get("Attributes") or {}).items():
            text += f", {k}={v}"
        return text + ")"
    if kind == "network":
        return f"{when} {kind} {status} {eid} (container={eid}, name={ev.get('network', '')})"
    if kind == "image":
        return f"{when} {kind} {status} {eid} {name}"
    if kind == "system" and not name:
        return f"{when} {kind} {status}"
    return f"{when} {kind} {status} {name}"


def template_data(ev: dict[str, Any]) -> dict[str, Any]:
    """The fields of Podman's Event struct (zero values where the JSON left them out)."""
    data: dict[str, Any] = {"ContainerExitCode": 0, "ID": "", "Image": "", "Name": "",
                            "Network": ev.get("network", ""), "Status": "", "Type": "",
                            "HealthStatus": ev.get("health_status", ""), "PodID": "",
                            "Attributes": {}}
    data.update({k: v for k, v in ev.items() if not k.startswith("_")})
    from pyman.cli.template import GoMap

    data["Attributes"] = GoMap(data["Attributes"] or {})
    data["Time"] = GoTime(ev["_ns"], ev["_off"])
    data["Details"] = {"ID": data["ID"], "PodID": data["PodID"],
                       "Attributes": data["Attributes"]}
    return data


@app.command("events", context_settings=CTX)
def events(
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="filter output")] = None,
    format_: Annotated[str | None, typer.Option(
        "--format", help="format the output using a Go template")] = None,
    stream: Annotated[bool, typer.Option(
        "--stream/--no-stream", hidden=True, help="stream new events; for testing only")
                      ] = True,
    since: Annotated[str | None, typer.Option(
        "--since", help="show all events created since timestamp")] = None,
    no_trunc: Annotated[bool, typer.Option(
        "--no-trunc/--trunc", help="do not truncate the output")] = True,
    until: Annotated[str | None, typer.Option(
        "--until", help="show all events until timestamp")] = None,
) -> None:
    """Show pyman events"""
    from pyman.cli.context import engine

    system = engine().system  # the store's checks, as every command
    found = (system.follow_events if stream else system.events)(filters, since, until)
    as_json = format_ is not None and format_.strip() in ("json", "{{json .}}")
    tpl = None
    if format_ is not None and not as_json:
        from pyman.cli.template import Template

        tpl = Template(format_)
    for ev in found:
        if as_json:
            line = system.event_json(ev)
        elif tpl is not None:
            line = tpl.render(template_data(ev)).rstrip("\n")
        else:
            line = human(ev, not no_trunc)
        sys.stdout.write(line + "\n")
        if stream:
            sys.stdout.flush()
