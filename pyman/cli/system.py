"""pyman info, pyman version."""

from __future__ import annotations

import json
import platform
from typing import Annotated, Any

import typer

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
                lines += _yaml(value, indent + 1)
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
    if isinstance(value, str) and (not value or any(c in value for c in ":#{}[]'\"")):
        return json.dumps(value)
    return str(value)


# Podman's Go field names where they are not the JSON key with its first letter raised
GO_NAMES = {"ociRuntime": "OCIRuntime", "cgroupVersion": "CgroupsVersion",
            "idMappings": "IDMappings", "uidmap": "UIDMap", "gidmap": "GIDMap"}


def go_names(data: Any) -> Any:
    """info's document with the field names `--format '{{.Host.OCIRuntime.Name}}'` uses."""
    if isinstance(data, dict):
        return {GO_NAMES.get(k, k[:1].upper() + k[1:]): go_names(v) for k, v in data.items()}
    if isinstance(data, list):
        return [go_names(v) for v in data]
    return data


@app.command("info", context_settings=CTX)
def info(fmt: Annotated[str | None, typer.Option("--format", "-f", help="json")] = None
         ) -> None:
    """Display pyman and host information."""
    from pyman.cli.context import GLOBAL
    from pyman.cli.context import engine as make_engine
    from pyman.engine.info import host_info

    data = host_info(make_engine(), GLOBAL.get("cgroup_manager"), GLOBAL.get("events_backend"))
    if fmt == "json":
        print(json.dumps(data, indent=2))
    elif fmt is not None:  # a Go template; an empty one prints nothing, as Podman
        from pyman.cli.template import Template

        out = Template(fmt).render(go_names(data))
        if out:
            print(out)
    else:
        print("\n".join(_yaml(data)))


@app.command("version", context_settings=CTX)
def version(fmt: Annotated[str | None, typer.Option("--format", "-f", help="json")] = None
            ) -> None:
    """Display the pyman version."""
    from pyman import __version__

    data = {"Version": __version__, "PythonVersion": platform.python_version(),
            "OsArch": f"linux/{_arch()}"}
    if fmt == "json":
        print(json.dumps({"Client": data}, indent=2))
        return
    print("Client:       pyman")
    print(f"Version:      {__version__}")
    print(f"Python Version: {platform.python_version()}")
    print(f"OS/Arch:      linux/{_arch()}")


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)
