"""pyman generate: kube (and the other generators) under Podman's older command group."""

from __future__ import annotations

import typer

from pyman.cli.generate_systemd import generate_systemd
from pyman.cli.kube import CTX, generate_yaml

app = typer.Typer(add_completion=False)
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Generate structured data (Kubernetes YAML, systemd units) from "
                         "containers and pods.")
app.add_typer(group, name="generate")
group.command("kube", context_settings=CTX)(generate_yaml)
group.command("systemd", context_settings=CTX)(generate_systemd)
