"""pyman info, pyman version, and the `system` group (df, info)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from pyman.cli.humanize import go_size

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


def _yaml(data: Any, indent: int = 0) -> list[str]:
    """Podman prints info as YAML; this covers the dicts, lists and scalars info has."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{key}:")
                # Go's YAML writer puts a list's dashes under its key, not indented
                lines += _yaml(value, indent + (0 if isinstance(value, list) else 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                sub = _yaml(item, indent + 1)
                lines.append(f"{pad}- {sub[0].strip()}")
                lines += sub[1:]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _needs_quotes(value):
        return json.dumps(value)
    return str(value)


def _needs_quotes(text: str) -> bool:
    """Go's YAML writer's rule, for block context: quoted when a plain scalar would read
    differently (`127.0.0.1:5000` stays plain, `a: b` does not)."""
    return (not text or text[0] in "-?:,[]{}#&*!|>'\"%@`" or text != text.strip()
            or ": " in text or " #" in text or text.endswith(":") or "\n" in text
            or _reads_as_other(text))


# Words YAML 1.1 reads as booleans or null: Go's YAML writer quotes such strings
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}


def _reads_as_other(text: str) -> bool:
    """Whether a plain ``text`` would read back as a number, boolean or null (Podman's
    `version: "12"`, `Native Overlay Diff: "true"`)."""
    if text.lower() in _YAML_WORDS:
        return True
    try:
        float(text.replace("_", "x"))
    except ValueError:
        return False
    return True


# Podman's Go field names where they are not the JSON key with its first letter raised
GO_NAMES = {"ociRuntime": "OCIRuntime", "cgroupVersion": "CgroupsVersion",
            "idMappings": "IDMappings", "uidmap": "UIDMap", "gidmap": "GIDMap", "cpus": "CPUs"}
# Go maps, not structs: their keys (registry prefixes, filesystem facts) stay as they are
GO_MAPS = ("registries", "graphStatus")


def go_names(data: Any) -> Any:
    """info's document with the field names `--format '{{.Host.OCIRuntime.Name}}'` uses."""
    if isinstance(data, dict):
        return {GO_NAMES.get(k, k[:1].upper() + k[1:]): v if k in GO_MAPS else go_names(v)
                for k, v in data.items()}
    if isinstance(data, list):
        return [go_names(v) for v in data]
    return data


@app.command("info", context_settings=CTX)
def info(fmt: Annotated[str | None, typer.Option("--format", "-f", help="json")] = None
         ) -> None:
    """Display pyman and host information."""
    from pyman.cli.context import GLOBAL
    from pyman.cli.context import engine as make_engine
    data = make_engine().system.info(
        cgroup_manager=GLOBAL.get("cgroup_manager"), events_backend=GLOBAL.get("events_backend"),
        checks=fmt is None or fmt == "json" or "SystemCheck" in fmt)
    if fmt == "json":
        print(json.dumps(data, indent=2))
    elif fmt is not None:  # a Go template; an empty one prints nothing, as Podman
        from pyman.cli.template import Template

        data["host"]["remoteSocket"].setdefault("exists", False)  # Go's zero value
        out = Template(fmt).render(go_names(data))
        if out:
            print(out)
    else:
        print("\n".join(_yaml(data)))


@app.command("version", context_settings=CTX)
def version(fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="Change the output format to JSON or a Go template")] = None
            ) -> None:
    """Display the pyman version"""
    from pyman.engine.system.info import version as version_report

    data = version_report()
    if fmt in ("json", "{{json .}}"):
        print(json.dumps(data, separators=(",", ":")))
        return
    if fmt is not None:  # Podman's rule: a template naming .Server falls back to the client
        from pyman.cli.template import Template
        from pyman.errors import TemplateError

        try:
            out = Template(fmt).render(data)
        except TemplateError:
            out = Template(fmt.replace(".Server.", ".")).render(data["Client"])
        print(out)
        return
    client = data["Client"]
    rows = [("Client:", "pyman"), ("Version:", client["Version"]),
            ("Python Version:", client["PythonVersion"]), ("Built:", client["BuiltTime"]),
            ("OS/Arch:", client["OsArch"])]
    for key, value in rows:
        print(f"{key.ljust(17)}{value}")


group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage pyman")
app.add_typer(group, name="system")
group.command("info", context_settings=CTX, help=info.__doc__)(info)
from pyman.cli.service import service  # noqa: E402 - registered with the group it belongs to

group.command("service", context_settings=CTX, help=service.__doc__)(service)

from pyman.cli.events import events  # noqa: E402 - `system events` is `events`

group.command("events", context_settings=CTX, help=events.__doc__)(events)


def _reclaim(part: int, total: int) -> str:
    return f"{go_size(part)} ({round(100 * part / total) if total else 0}%)"


@group.command("df", context_settings=CTX)
def df(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Each image, container "
                                          "and volume.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="A Go template.")] = None,
) -> None:
    """Show pyman disk usage"""
    import shlex
    import time

    from pyman.cli.context import engine as make_engine
    from pyman.cli.humanize import ago, table

    use = make_engine().system.df()
    if verbose:
        now = time.time()
        print("Images space usage:\n")
        rows = []
        for i in use.images:
            rec = i["record"]
            for name in rec.names or ["<none>:<none>"]:
                repo, _, tag = name.rpartition(":")
                rows.append([repo, tag, rec.id[:12], ago(i["created"], now) if i["created"]
                             else "", go_size(i["size"]), "0B", go_size(i["size"]),
                             str(i["containers"])])
        print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE",
                     "UNIQUE SIZE", "CONTAINERS"], rows))
        print("\nContainers space usage:\n")
        from pyman.cli.containers import status_text

        rows = []
        for c in use.containers:
            s = c["summary"]
            rows.append([s.id[:12], s.image_id.removeprefix("sha256:")[:12],
                         shlex.join(s.command), str(c["volumes"]), go_size(c["size"]),
                         ago(s.created, now),
                         status_text(s.status, s.exit_code, s.started_at, s.finished_at, now),
                         s.name])
        print(table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED",
                     "STATUS", "NAMES"], rows))
        print("\nLocal Volumes space usage:\n")
        print(table(["VOLUME NAME", "LINKS", "SIZE"],
                    [[v["name"], str(v["links"]), go_size(v["size"])] for v in use.volumes]))
        return
    image_size = sum(i["size"] for i in use.images)
    ctr_size = sum(c["size"] for c in use.containers)
    vol_size = sum(v["size"] for v in use.volumes)
    reports = [
        {"Type": "Images", "Total": len(use.images),
         "Active": sum(1 for i in use.images if i["containers"]), "RawSize": image_size,
         "RawReclaimable": sum(i["size"] for i in use.images if not i["containers"])},
        {"Type": "Containers", "Total": len(use.containers),
         "Active": sum(1 for c in use.containers if c["summary"].status == "running"),
         "RawSize": ctr_size,
         "RawReclaimable": sum(c["size"] for c in use.containers
                               if c["summary"].status != "running")},
        {"Type": "Local Volumes", "Total": len(use.volumes),
         "Active": sum(1 for v in use.volumes if v["links"]), "RawSize": vol_size,
         "RawReclaimable": sum(v["size"] for v in use.volumes if not v["links"])},
    ]
    for r in reports:
        r["Size"] = go_size(r["RawSize"])
        r["Reclaimable"] = _reclaim(r["RawReclaimable"], r["RawSize"])
    if fmt == "json":
        print(json.dumps(reports, indent=4))
        return
    if fmt:
        from pyman.cli.template import render_list

        out = render_list(fmt, reports)
        if out:
            print(out)
        return
    print(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                [[r["Type"], str(r["Total"]), str(r["Active"]), r["Size"], r["Reclaimable"]]
                 for r in reports]))
from pyman.cli import system_maint  # noqa: E402, F401  (its commands join the group)
