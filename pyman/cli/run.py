"""pyman run and pyman create: one definition of the options, two commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False)

RUN_CONTEXT = {"allow_interspersed_args": False, "help_option_names": ["--help"]}


def _command(create_only: bool) -> Callable[..., None]:
    def command(
        image: Annotated[str, typer.Argument(help="Image to run.")],
        command: Annotated[list[str] | None, typer.Argument(help="Command and arguments.")
                           ] = None,
        name: Annotated[str | None, typer.Option("--name", help="Name of the container.")
                        ] = None,
        env: Annotated[list[str] | None, typer.Option("--env", "-e",
                                                      help="Set environment variables.")
                       ] = None,
        workdir: Annotated[str | None, typer.Option("--workdir", "-w",
                                                    help="Working directory.")] = None,
        entrypoint: Annotated[str | None, typer.Option(
            "--entrypoint", help="Override the image's entrypoint.")] = None,
        user: Annotated[str | None, typer.Option("--user", "-u", help="user[:group]")] = None,
        hostname: Annotated[str | None, typer.Option("--hostname", "-h")] = None,
        network: Annotated[str | None, typer.Option("--network", "--net",
                                                    help="pasta, slirp4netns, host or none.")
                           ] = None,
        label: Annotated[list[str] | None, typer.Option("--label", "-l",
                                                        help="key=value metadata.")] = None,
        rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")
                      ] = False,
        replace: Annotated[bool, typer.Option(
            "--replace", help="Replace a container of the same name.")] = False,
        detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")
                          ] = False,
        interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                                  help="Keep stdin open.")] = False,
        pull: Annotated[str, typer.Option("--pull", help="always, missing, never.")
                        ] = "missing",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress pull output.")
                         ] = False,
        # -- security and limits (engine/security.py) --
        cap_add: Annotated[list[str] | None, typer.Option(
            "--cap-add", help="Add capabilities (NAME, CAP_NAME or ALL).")] = None,
        cap_drop: Annotated[list[str] | None, typer.Option(
            "--cap-drop", help="Drop capabilities (NAME, CAP_NAME or ALL).")] = None,
        privileged: Annotated[bool, typer.Option(
            "--privileged", help="All capabilities, no seccomp, no masked paths, host devices."
        )] = False,
        security_opt: Annotated[list[str] | None, typer.Option(
            "--security-opt", help="no-new-privileges, seccomp=unconfined|PROFILE.json, "
            "mask=PATHS, unmask=PATHS|ALL, label=..., apparmor=...")] = None,
        # -- networking
        publish: Annotated[list[str] | None, typer.Option(
            "--publish", "-p", help="[ip:][hostPort:]containerPort[/tcp|/udp]; ranges too.")
                           ] = None,
        publish_all: Annotated[bool, typer.Option(
            "--publish-all", "-P", help="Publish every EXPOSEd port to a free host port.")
                               ] = False,
    ) -> None:
        from pyman.cli.context import engine as make_engine
        from pyman.cli.env import expand_env
        from pyman.cli.progress import PullProgress
        from pyman.engine.types import RunOptions

        if pull not in ("always", "missing", "never", "newer"):
            raise typer.BadParameter(f"invalid pull policy {pull!r}: always, missing or never")
        if replace and not name:
            raise typer.BadParameter("cannot replace container without --name being set")
        labels: dict[str, Any] = {}
        for item in label or []:
            key, _, value = item.partition("=")
            labels[key] = value
        opts = RunOptions(image=image, command=list(command or []), name=name,
                          env=expand_env(env or []), workdir=workdir, entrypoint=entrypoint,
                          user=user, hostname=hostname, network=network, rm=rm,
                          detach=detach, interactive=interactive, replace=replace,
                          labels=labels, pull="missing" if pull == "newer" else pull,
                          cap_add=cap_add or [], cap_drop=cap_drop or [],
                          privileged=privileged, security_opt=security_opt or [],
                          publish=list(publish or []), publish_all=publish_all)
        engine = make_engine()
        with PullProgress(quiet) as progress:
            if create_only:
                image_rec = engine.images.get_or_pull(opts.image, opts.pull, progress)
                print(engine.containers.create(opts, image_rec).id)
                return
            result = engine.containers.run(opts, progress)
        if result.exit_code is None:
            print(result.id)
            return
        sys.stdout.flush()
        raise typer.Exit(result.exit_code)

    command.__doc__ = ("Create but do not start a container." if create_only
                       else "Run a command in a new container.")
    return command


app.command("run", context_settings=RUN_CONTEXT)(_command(False))
app.command("create", context_settings=RUN_CONTEXT)(_command(True))
