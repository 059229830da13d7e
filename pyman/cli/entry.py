"""The `pyman` console script: as little as can be around main()."""

from __future__ import annotations

import gc
import os
import sys


def entry() -> None:
    """main(), between two shortcuts a short process can take. The collector is off while
    modules import and the command is built (they allocate most of what the process ever
    will, in no cycles worth finding: ~6 ms of every start; main() turns it back on). And out
    through os._exit: the interpreter's tear-down frees every module's objects (~12 ms) for
    a process that is over. Files are closed by their `with` blocks; stdout and stderr are
    flushed here."""
    if sys.argv[1:] in (["--version"], ["-v"]):  # answered without the command tree
        from pyman import __version__

        try:
            name = os.path.basename(sys.argv[0])  # Podman names itself after argv[0]
            name = "pyman" if not name or name.endswith(".py") else name
            print(f"{name} version {__version__}", flush=True)
        except OSError:  # a reader gone
            pass
        os._exit(0)
    from pyman.cli import root_help

    if root_help.applies(sys.argv[1:], dict(os.environ)):  # the root's help, without typer
        try:
            name = os.path.basename(sys.argv[0])
            name = "pyman" if not name or name.endswith(".py") else name
            sys.stdout.write(root_help.text(name))
            sys.stdout.flush()
        except OSError:  # a reader gone
            pass
        os._exit(0)
    gc.disable()
    if sys.argv[1:2] == ["run"]:  # only run prestarts (its imports cost ps ~4 ms)
        from pyman.engine.containers import early_monitor

        early_monitor.prestart(sys.argv[1:])  # the monitor starts while we import
    from pyman.cli.main import main

    try:
        main()
        code = 0
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone, or the stream closed
            pass
    os._exit(code)
