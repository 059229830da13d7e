"""``pyman-quadlet [--user] [--dryrun] [-v] OUTPUT_DIR [EARLY_DIR LATE_DIR]``: the generator.

systemd runs generators with three output dirs; units go to the first, as Podman's Quadlet
does. Installed as /usr/lib/systemd/user-generators/pyman-user-generator (or in
~/.config/systemd/user-generators/), a name with "user" in it means --user. Errors go to
stderr (and /dev/kmsg as systemd's generators do is left out: stderr reaches the journal);
the exit status is 1 when a file could not be converted.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyman-quadlet"
    if prog == "__main__.py":
        prog = "pyman-quadlet"
    return run(list(sys.argv[1:] if argv is None else argv), prog, "user" in prog)


def run(args: list[str], prog: str, user: bool) -> int:
    from pyman.quadlet.generate import (
        convert_all,
        find_files,
        pyman_binary,
        render,
        search_dirs,
        write_units,
    )

    dryrun = verbose = False
    dirs: list[str] = []
    for arg in args:
        flag = arg.lstrip("-") if arg.startswith("-") else None
        if flag in ("user",):
            user = True
        elif flag in ("dryrun", "dry-run"):
            dryrun = True
        elif flag in ("v", "verbose"):
            verbose = True
        elif flag in ("no-kmsg-log",):
            pass
        elif flag in ("h", "help"):
            print(__doc__.strip())
            return 0
        elif flag is not None:
            print(f"{prog}: unknown option {arg}", file=sys.stderr)
            return 2
        else:
            dirs.append(arg)
    if not dryrun and not dirs:
        print(f"{prog}: missing output directory (or --dryrun)", file=sys.stderr)
        return 2
    search = search_dirs(user)
    files = find_files(search)
    if verbose:
        for path in files:
            print(f"{prog}: loading source unit file {path}", file=sys.stderr)
    res = convert_all(files, user, pyman_binary(), search)
    generator = prog
    if dryrun:
        for service, svc in res.units.items():
            sys.stdout.write(f"---{service}---\n{render(svc, generator)}\n")
    else:
        write_units(res, dirs[0], generator)
    for err in res.errors:
        print(f"{prog}: {err}", file=sys.stderr)
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
