"""Entry point: ``python3 -I -S <this file> <run-dir> <sync-fd> <ctl-fd>``.

Started with -S (no site-packages) to stay small and fast, so the package root is put on
sys.path by hand: the monitor uses only the stdlib and pyman's stdlib-only modules.
"""

import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    if sys.argv[1:2] == ["--lean"]:  # the detached container's long wait, re-exec'ed
        from pyman.monitor.lean import main
    else:
        if sys.argv[1:2] == ["-"]:  # started early: unshare first, so that the engine maps
            from pyman.rootless import libc  # the ids while the rest (~15 ms) imports
            from pyman.rootless.enter import unshare_early

            unshare_early(libc.CLONE_NEWNS, int(sys.argv[2]))
        from pyman.monitor.main import main

    sys.exit(main(sys.argv[2:] if sys.argv[1:2] == ["--lean"] else sys.argv[1:]))
