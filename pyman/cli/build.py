"""pyman build (also `image build`, `buildx build`): the flags; the work is
engine/build/builder.py."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from pyman.errors import Interrupted, PymanError

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
ListOpt = list[str] | None


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        k, eq, val = v.partition("=")
        if not k:
            raise PymanError(f"{what} {v!r}: KEY=VALUE expected")
        out[k] = val if eq else os.environ.get(k, "") if what == "--build-arg" else ""
    return out


POLICIES = ("always", "missing", "never", "newer", "true", "false")


def bare_pull(args: list[str]) -> list[str]:
    """`--pull` alone means always (pflag's NoOptDefVal): the next word is not its value
    unless it is a policy."""
    out = list(args)
    for i, word in enumerate(out):
        if word == "--pull" and (i + 1 >= len(out) or out[i + 1].lower() not in POLICIES):
            out[i] = "--pull=always"
    return out


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT stop the build (as `timeout` and Ctrl-C mean): the exception
    unwinds through the steps, whose clean-up kills and removes the step's container, so
    nothing of the build goes on running. A second signal during that clean-up is ignored.
    The RUN containers get no signals proxied: a container's init (`sleep`) would ignore
    SIGTERM and the build would hang until killed."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        name = signal.Signals(signum).name
        raise Interrupted(f"build interrupted by {name}", exit_code=128 + signum)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def build(
    context: Annotated[str | None, typer.Argument(
        help="The build context: a directory, or - (a tarball or a Containerfile on stdin).")
    ] = None,
    tag: Annotated[ListOpt, typer.Option("--tag", "-t", help="Name the image.")] = None,
    file: Annotated[ListOpt, typer.Option(
        "--file", "-f", help="The Containerfile (- for stdin); several are joined.")] = None,
    build_arg: Annotated[ListOpt, typer.Option("--build-arg", help="ARG=value")] = None,
    build_arg_file: Annotated[ListOpt, typer.Option(
        "--build-arg-file", help="A file of ARG=value lines.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="The stage to build.")
                      ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step again.")
                        ] = False,
    pull: Annotated[str, typer.Option(
        "--pull", help="always | missing | never | newer (alone: always).")] = "missing",
    pull_always: Annotated[bool, typer.Option("--pull-always", hidden=True)] = False,
    pull_never: Annotated[bool, typer.Option("--pull-never", hidden=True)] = False,
    layers: Annotated[bool | None, typer.Option(
        "--layers/--no-layers", help="Cache each step's layer (default true; BUILDAH_LAYERS)."
    )] = None,
    squash: Annotated[bool, typer.Option("--squash", help="The new layers as one.")] = False,
    squash_all: Annotated[bool, typer.Option("--squash-all", help="One layer in all.")
                          ] = False,
    label: Annotated[ListOpt, typer.Option("--label", help="key=value on the image.")] = None,
    annotation: Annotated[ListOpt, typer.Option("--annotation", help="key=value.")] = None,
    iidfile: Annotated[str | None, typer.Option("--iidfile", help="Write the id here.")
                       ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the image id.")] = False,
    rm: Annotated[bool, typer.Option(
        "--rm/--no-rm", help="Remove intermediate containers (--rm=false is accepted; "
        "pyman's build containers are always removed).")] = True,
    force_rm: Annotated[bool, typer.Option("--force-rm", help="Also after a failure.")
                        ] = False,
    network: Annotated[str | None, typer.Option("--network", "--net", help="RUN's network.")
                       ] = None,
    volume: Annotated[ListOpt, typer.Option("--volume", "-v", help="Bind for RUN.")] = None,
    env: Annotated[ListOpt, typer.Option("--env", help="ENV for the image.")] = None,
    ignorefile: Annotated[str | None, typer.Option("--ignorefile", help="Ignore file.")
                          ] = None,
    fmt: Annotated[str, typer.Option("--format", help="oci | docker")] = "oci",
    platform: Annotated[str | None, typer.Option("--platform", help="This host's only.")
                        ] = None,
    logfile: Annotated[str | None, typer.Option("--logfile", help="Output to this file.")
                       ] = None,
    dns: Annotated[ListOpt, typer.Option("--dns", help="RUN's name servers.")] = None,
    dns_search: Annotated[ListOpt, typer.Option("--dns-search")] = None,
    dns_option: Annotated[ListOpt, typer.Option("--dns-option")] = None,
    add_host: Annotated[ListOpt, typer.Option("--add-host")] = None,
    ulimit: Annotated[ListOpt, typer.Option("--ulimit")] = None,
    security_opt: Annotated[ListOpt, typer.Option("--security-opt")] = None,
    cap_add: Annotated[ListOpt, typer.Option("--cap-add")] = None,
    cap_drop: Annotated[ListOpt, typer.Option("--cap-drop")] = None,
    authfile: Annotated[str | None, typer.Option("--authfile")] = None,
    jobs: Annotated[int, typer.Option(
        "--jobs", help="Stages built at once (0: no limit).")] = 1,
    load: Annotated[bool, typer.Option("--load", hidden=True)] = False,
    tls_verify: Annotated[bool | None, typer.Option(
        "--tls-verify/--no-tls-verify", help="Require HTTPS and verify certificates when "
        "pulling images (default: registries.conf's).")] = None,
) -> None:
    """Build an image from a Containerfile"""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.progress import PullProgress
    from pyman.engine.build.builder import Builder, BuildOptions
    from pyman.engine.build.context import prepare, read_arg_file

    if jobs < 0:
        raise PymanError(f"--jobs {jobs}: a number of stages, 0 or more")
    if fmt not in ("oci", "docker"):
        raise PymanError(f"unrecognized image type {fmt!r}: --format oci or docker")
    if authfile and not os.path.exists(authfile):
        raise PymanError(f"checking authfile: stat {authfile}: no such file or directory")
    if pull not in POLICIES:
        raise PymanError(f"invalid pull policy {pull!r}: always, missing, never or newer")
    policy = "always" if pull_always else "never" if pull_never else pull
    if layers is None:
        layers = os.environ.get("BUILDAH_LAYERS", "true").lower() in ("1", "true", "t", "yes")
    args: dict[str, str] = {}
    for f in build_arg_file or []:
        args.update(read_arg_file(f))
    args.update(_pairs(build_arg, "--build-arg"))
    if logfile:
        fd = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    stdin = sys.stdin.buffer if context == "-" or "-" in (file or []) else None
    prepared = prepare(context, list(file or []), stdin)
    try:
        opts = BuildOptions(
            context=prepared.context, containerfile=prepared.text, file_name=prepared.name,
            tags=list(tag or []), build_args=args, target=target, no_cache=no_cache,
            pull=policy, layers=layers, squash=squash, squash_all=squash_all,
            labels=_pairs(label, "--label"), annotations=_pairs(annotation, "--annotation"),
            quiet=quiet, network=network, volumes=list(volume or []), env=list(env or []),
            ignorefile=ignorefile, fmt=fmt, platform=platform, dns=list(dns or []),
            dns_search=list(dns_search or []), dns_option=list(dns_option or []),
            add_host=list(add_host or []), ulimit=list(ulimit or []),
            security_opt=list(security_opt or []), cap_add=list(cap_add or []),
            cap_drop=list(cap_drop or []), jobs=jobs, tls_verify=tls_verify,
            authfile=authfile)
        with PullProgress(quiet) as progress, _interruptible():
            image_id = Builder(make_engine(), opts, events=progress,
                               say=lambda line: print(line, flush=True),
                               warn=lambda line: print(line, file=sys.stderr)).build()
    finally:
        prepared.cleanup()
    if iidfile:
        with open(iidfile, "w", encoding="utf-8") as out:
            out.write(f"sha256:{image_id}")
    print(image_id, flush=True)


app.command("build", context_settings=CTX)(build)

# `pyman buildx build`: Docker's spelling, as Podman accepts it
buildx = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                     help="Build images (Docker buildx's spelling).")
buildx.command("build", context_settings=CTX, help=build.__doc__)(build)
app.add_typer(buildx, name="buildx")
