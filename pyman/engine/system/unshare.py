"""`pyman unshare`: run a command as root in a fully mapped user namespace of its own with a
private mount namespace, as `podman unshare` does, so the user can read and change what
pyman's namespaces own (layers, volumes, `:U`-chowned binds) with the ids containers see."""

from __future__ import annotations

import os
import sys

from pyman.config import Paths


def run(args: list[str], paths: Paths) -> int:
    """Run ``args`` in the namespace and return its exit status (Podman's 126/127 when it
    cannot be run)."""
    from pyman.rootless import libc
    from pyman.rootless.enter import child_enter
    from pyman.rootless.userns import host_id_maps, parent_map

    maps = host_id_maps()
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
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
                print(f'Error: exec: "{args[0]}": executable file not found in $PATH',
                      file=sys.stderr)
                code = 127
            except OSError as exc:
                print(f'Error: exec: "{args[0]}": {os.strerror(exc.errno or 0).lower()}',
                      file=sys.stderr)
                code = 126
        except BaseException as exc:  # the set-up failed: one line, the parent's code
            print(f"Error: {exc}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(code)
    os.close(up_w)
    os.close(down_r)
    try:
        parent_map(pid, up_r, down_w, maps)
    except BaseException:
        os.close(down_w)  # the child reads EOF and leaves
        os.waitpid(pid, 0)
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
    return os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) \
        else 128 + os.WTERMSIG(status)
