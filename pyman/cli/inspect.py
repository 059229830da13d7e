"""pyman inspect (containers)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


@app.command("inspect", context_settings=CTX)
def inspect(
    names: Annotated[list[str] | None, typer.Argument(help="Containers to inspect.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="json")] = None,
    latest: Annotated[bool, typer.Option("--latest", "-l", help="The last created.")
                      ] = False,
    type_: Annotated[str, typer.Option("--type", "-t", help="container or all")] = "all",
    size: Annotated[bool, typer.Option("--size", "-s", help="Accepted; sizes not computed.")
                    ] = False,
) -> None:
    """Display the configuration of containers."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.lifecycle import targets
    from pyman.engine.inspect import container_inspect
    from pyman.errors import ContainerNotFoundError, PymanError

    if fmt not in (None, "", "json"):
        raise PymanError("inspect --format supports only json for now: Go templates come "
                         "with pyman/cli/template.py")
    engine = make_engine()
    svc = engine.containers
    docs: list[dict[str, Any]] = []
    failed: PymanError | None = None
    for key in targets(names, False, latest):
        try:
            c, st = svc.get(key)
        except ContainerNotFoundError:
            failed = PymanError(f'no such object: "{key}"')
            continue
        docs.append(container_inspect(c, st, static_dir=str(svc.store.dir(c.id)),
                                      run_dir=str(svc.store.run_dir(c.id))))
    print(json.dumps(docs, indent=4))
    if failed is not None:
        raise failed
