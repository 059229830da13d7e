"""pyman push."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pyman.cli import complete_values as cv
from pyman.cli.login import AuthFile, CertDir, TlsVerify, parse_bool

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


class PushLines:
    """Podman's plain lines on stderr (no terminal tricks: a push is short)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def started(self) -> None:
        self.say("Getting image source signatures")

    def blob(self, digest: str, kind: str, how: str) -> None:
        word = "config" if kind == "config" else "blob"
        suffix = " skipped: already exists" if how in ("exists", "mounted") else ""
        self.say(f"Copying {word} {digest}{suffix}")

    def warn(self, message: str) -> None:
        print(f"WARN: {message}", file=sys.stderr, flush=True)

    def progress(self, digest: str, done: int, total: int) -> None:
        pass


@app.command("push", context_settings=CTX)
def push(
    image: Annotated[str, typer.Argument(help="Local image to push.",
                                                autocompletion=cv.images)],
    destination: Annotated[str | None, typer.Argument(
        help="Where to: REGISTRY/REPOSITORY:TAG, docker:// optional (default: the image's "
        "name).")
                           ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
    tls_verify: TlsVerify = None,
    creds: Annotated[str | None, typer.Option("--creds", help="USERNAME:PASSWORD")] = None,
    authfile: AuthFile = None,
    cert_dir: CertDir = None,
    digestfile: Annotated[str | None, typer.Option(
        "--digestfile", help="Write the pushed manifest's digest to this file.")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="Manifest type: oci or v2s2 (default: as stored).",
        autocompletion=cv.manifest_formats)] = None,
) -> None:
    """Push an image to a registry."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.types import PushOptions

    lines = PushLines(quiet)
    make_engine().registry.push(
        PushOptions(image, destination, parse_bool(tls_verify, "--tls-verify"), creds,
                    authfile, fmt, digestfile, cert_dir=cert_dir), lines)
    lines.say("Writing manifest to image destination")
