"""pyman secret create|ls|inspect|rm, with Podman 4.3's output (engine/secrets.py)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pyman.engine.secrets import SecretStore

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage secrets.")
app.add_typer(group, name="secret")

HEADERS = {"ID": "ID", "Name": "NAME", "Driver": "DRIVER", "CreatedAt": "CREATED",
           "UpdatedAt": "UPDATED"}


def _store() -> SecretStore:
    from pyman.cli.context import engine as make_engine
    from pyman.engine.secrets import SecretStore

    return SecretStore(make_engine().paths.data)


@group.command("create", context_settings=CTX)
def create(
    name: Annotated[str, typer.Argument(help="Name of the secret.")],
    file: Annotated[str, typer.Argument(help="File with the secret's data ('-': stdin).")],
    driver: Annotated[str, typer.Option("--driver", "-d", help="Secret driver.")] = "file",
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="key=value.")
                     ] = None,
) -> None:
    """Create a new secret"""
    from pyman.errors import PymanError

    try:
        if file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise PymanError(f"open {file}: {(exc.strerror or str(exc)).lower()}") from None
    labels = dict(item.partition("=")[::2] for item in label or [])
    print(_store().create(name, data, labels, driver).id)


def _ls(
    fmt: Annotated[str | None, typer.Option("--format", help="A Go template.")] = None,
    noheading: Annotated[bool, typer.Option("--noheading", "-n", help="No header row.")
                         ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="IDs only.")] = False,
) -> None:
    """List secrets"""
    from pyman.cli.humanize import ago
    from pyman.cli.template import print_listing

    items = _store().all()
    if quiet:
        for s in items:
            print(s.id)
        return
    rows = [{"ID": s.id, "Name": s.name, "Driver": s.driver, "CreatedAt": ago(s.created),
             "UpdatedAt": ago(s.updated or s.created)} for s in items]
    print_listing(fmt or "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t"
                  "{{.UpdatedAt}}", rows, HEADERS, noheading)


group.command("ls", context_settings=CTX)(_ls)
group.command("list", context_settings=CTX, hidden=True)(_ls)


@group.command("inspect", context_settings=CTX)
def inspect(
    names: Annotated[list[str], typer.Argument(help="Secrets (names or ids).")],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="json or a Go template.")
                   ] = None,
) -> None:
    """Inspect a secret"""
    from pyman.errors import SecretNotFoundError

    store = _store()
    docs, failed = [], None
    for name in names:
        try:
            docs.append(store.inspect(store.find(name)))
        except SecretNotFoundError as exc:
            failed = exc
    if fmt in (None, "", "json"):
        print(json.dumps(docs, indent=4))
    else:
        from pyman.cli.template import Template

        tpl = Template(fmt)
        for d in docs:
            print(tpl.render(d))
    if failed is not None:
        raise failed


@group.command("rm", context_settings=CTX)
def rm(
    names: Annotated[list[str] | None, typer.Argument(help="Secrets (names or ids).")
                     ] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Remove all secrets.")] = False,
) -> None:
    """Remove one or more secrets"""
    from pyman.errors import PymanError

    if bool(names) == all_:
        raise PymanError("`pyman secret rm` requires one argument, or --all" if not names
                         else "when using the --all switch, you may not pass any secret "
                         "names or ids")
    store = _store()
    failed = None
    for key in [s.id for s in store.all()] if all_ else names or []:
        try:
            print(store.remove(key).id)
        except PymanError as exc:
            failed = exc
    if failed is not None:
        raise failed
