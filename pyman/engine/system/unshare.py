"""`pyman unshare`: run a command as root in a fully mapped user namespace of its own with a
private mount namespace, as `podman unshare` does, so the user can read and change what
pyman's namespaces own (layers, volumes, `:U`-chowned binds) with the ids containers see."""

from __future__ import annotations

import os
import sys

from pyman.config import Paths


def run(args: list[str], paths: Paths) -> int:
    """Run ``args`` in the namespace and return its exit status. One that cannot be run is
    CommandNotFoundError (127) or CommandCannotRunError (126), a failed set-up PymanError:
    the child says which on a close-on-exec pipe, which an exec that worked closes empty."""
    from pyman.rootless import libc
    from pyman.rootless.enter import child_enter
    from pyman.rootless.userns import host_id_maps, parent_map

    maps = host_id_maps()
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    err_r, err_w = os.pipe()  # not inherited: closed by the exec
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code, why = 125, ""
        try:
            os.close(err_r)
            os.close(up_r)
            os.close(down_w)
            child_enter(libc.CLONE_NEWNS, up_w, down_r)
            os.close(up_w)
            os.close(down_r)
            # the user's own runtime dir (root's here): pyman run inside must not fall
            # back to /tmp/pyman-run-0, which any user's unshare would share
            env = dict(os.environ, _CONTAINERS_USERNS_CONFIGURED="done",
                       CONTAINERS_GRAPHROOT=str(paths.data),
                       CONTAINERS_RUNROOT=str(paths.runtime),
                       XDG_RUNTIME_DIR=str(paths.runtime_base))
            try:
                os.execvpe(args[0], args, env)
            except FileNotFoundError:
                code, why = 127, f'exec: "{args[0]}": executable file not found in $PATH'
            except OSError as exc:
                code, why = 126, f'exec: "{args[0]}": {os.strerror(exc.errno or 0).lower()}'
        except BaseException as exc:  # the set-up failed: the parent reports it
            why = str(exc) or type(exc).__name__
        try:
            os.write(err_w, f"{code}\n{why}".encode())
        finally:
            os._exit(code)
    os.close(err_w)
    os.close(up_w)
    os.close(down_r)
    try:
        parent_map(pid, up_r, down_w, maps)
    except BaseException:
        os.close(down_w)  # the child reads EOF and leaves
        os.waitpid(pid, 0)
        os.close(err_r)
        raise
    finally:
        os.close(up_r)
    os.close(down_w)
    import signal

    # the command has the terminal too: Ctrl-C is its to handle; we only wait for it
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGINT, old)
    with os.fdopen(err_r, "rb") as f:
        report = f.read().decode(errors="replace")
    if report:  # the command never ran
        from pyman.errors import from_exit_code

        said, _, why = report.partition("\n")
        raise from_exit_code(why, int(said))
    return os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) \
        else 128 + os.WTERMSIG(status)
