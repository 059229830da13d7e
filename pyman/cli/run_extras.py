"""run/create options checked and recorded outside run.py's long option table: --attach,
--preserve-fds, --conmon-pidfile, --runtime, --timeout, --hostuser (Podman's checks and
messages)."""

from __future__ import annotations

import os

from pyman.engine.types import RunOptions
from pyman.errors import PymanError

STREAMS = ("stdin", "stdout", "stderr")


def apply_extras(opts: RunOptions, attach: list[str] | None, preserve_fds: int,
                 conmon_pidfile: str | None, runtime: str | None, timeout: int,
                 hostuser: list[str] | None, create_only: bool,
                 secret: list[str] | None = None) -> None:
    if attach:
        if opts.log_driver == "passthrough":
            raise PymanError("cannot specify --attach with --log-driver=passthrough: invalid "
                             "argument")
        streams = []
        for stream in attach:
            if stream.lower() not in STREAMS:
                raise PymanError(f'invalid stream "{stream}" for --attach - must be one of '
                                 "stdin, stdout, or stderr: invalid argument")
            streams.append(stream.lower())
        opts.attach = streams
        opts.attach_none = not create_only and not opts.detach and not (
            {"stdout", "stderr"} & set(streams))
    if preserve_fds:
        if create_only:
            raise PymanError("unknown flag: --preserve-fds\nSee 'pyman create --help'")
        if preserve_fds < 0:
            raise PymanError(f'invalid argument "{preserve_fds}" for "--preserve-fds" flag')
        for fd in range(3, 3 + preserve_fds):
            try:
                os.fstat(fd)
            except OSError:
                raise PymanError(f"file descriptor {fd} is not available - the preserve-fds "
                                 "option requires that file descriptors must be passed"
                                 ) from None
        opts.preserve_fds = preserve_fds
    if conmon_pidfile is not None:
        opts.conmon_pidfile = os.path.abspath(conmon_pidfile)
    if runtime:
        opts.runtime = runtime
    if timeout < 0:
        raise PymanError(f'invalid argument "{timeout}" for "--timeout" flag')
    opts.timeout = timeout
    opts.hostusers = list(hostuser or [])
    opts.secrets = list(secret or [])
