"""pyman save and pyman load."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


class _Warnings:
    def warn(self, message: str) -> None:
        print(f"WARN: {message}", file=sys.stderr, flush=True)


@app.command("save", context_settings=CTX)
def save(
    images: Annotated[list[str], typer.Argument(help="Image(s) to save.",
                                                      autocompletion=cv.images)],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write to a file (default: stdout, unless it is a terminal).")
                      ] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="docker-archive or oci-archive.",
        autocompletion=cv.archive_formats)] = "docker-archive",
    multi: Annotated[bool, typer.Option(
        "--multi-image-archive", "-m",
        help="Save several images (docker-archive only); else extra names are tags.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no progress.")] = False,
    uncompressed: Annotated[bool, typer.Option(
        "--uncompressed", help="oci-archive: store the layers uncompressed (docker-archive's "
        "always are).")] = False,
) -> None:
    """Save image(s) to an archive."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.images.archives import SaveOptions
    from pyman.errors import PymanError

    stream = None
    if output is None:
        if sys.stdout.isatty():
            raise PymanError("refusing to save to terminal. Use -o flag or redirect")
        stream = sys.stdout.buffer
    make_engine().archives.save(
        SaveOptions(images, output, fmt, multi, uncompressed), stream, _Warnings())


def _download(url: str, out: Any) -> None:
    """load -i URL (as Podman): the archive is fetched first, then loaded from the file."""
    import shutil
    import urllib.error
    import urllib.request

    from pyman.errors import PymanError

    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - the user's URL
            shutil.copyfileobj(resp, out, 1 << 20)
        out.flush()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise PymanError(f"downloading {url}: {why}") from None


@app.command("load", context_settings=CTX)
def load(
    input_: Annotated[str | None, typer.Option(
        "--input", "-i", help="Read from a file (default: stdin).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no progress.")] = False,
) -> None:
    """Load image(s) from a docker-archive or oci-archive tarball."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    stdin = None
    if input_ is None:
        if sys.stdin.isatty():
            raise PymanError("cannot read from terminal, use command-line redirection or the "
                             "--input flag")
        stdin = sys.stdin.buffer
    if input_ is not None and input_.startswith(("http://", "https://")):
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="pyman-load-") as tmp:
            _download(input_, tmp)
            report = make_engine().archives.load(tmp.name, None)
    else:
        report = make_engine().archives.load(input_, stdin)
    for w in report.warnings:
        print(f"WARN: {w}", file=sys.stderr)
    for name in report.names:
        print(f"Loaded image: {name}")
