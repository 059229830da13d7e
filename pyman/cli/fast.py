"""`pyman run`, `create`, `exec` and `ps` without typer, for the everyday command lines.

Importing typer and building the command costs ~40 ms of a ~100 ms run (issue 14). A command
line made only of the options below (each as click reads it: `--name x`, `--name=x`, `-e x`,
flags alone, short flags grouped as `-it`) is parsed here and handed to the same function
typer would call (cli/{run,exec,ps}_command.py), with its own defaults for the rest.
Anything else (another option, a flag with a value, `--help`, `--`, an option value that
looks like an option, a global option before the command) returns None: the typer path then
takes it, with its checks and messages. tests/unit/test_fast.py holds these tables to
typer's and compares the parsed values with click's for many command lines.
"""

from __future__ import annotations

from collections.abc import Callable

# option word -> (parameter, kind): "flag" (a bool set by its presence), "one" (a string,
# the last one given wins), "many" (a list of strings, one per use)
RUN_OPTIONS: dict[str, tuple[str, str]] = {
    "--rm": ("rm", "flag"), "--detach": ("detach", "flag"), "-d": ("detach", "flag"),
    "--interactive": ("interactive", "flag"), "-i": ("interactive", "flag"),
    "--tty": ("tty", "flag"), "-t": ("tty", "flag"), "--quiet": ("quiet", "flag"),
    "-q": ("quiet", "flag"), "--init": ("init", "flag"), "--privileged": ("privileged", "flag"),
    "--read-only": ("read_only", "flag"), "--publish-all": ("publish_all", "flag"),
    "-P": ("publish_all", "flag"), "--env-host": ("env_host", "flag"),
    "--name": ("name", "one"), "--workdir": ("workdir", "one"), "-w": ("workdir", "one"),
    "--entrypoint": ("entrypoint", "one"), "--user": ("user", "one"), "-u": ("user", "one"),
    "--hostname": ("hostname", "one"), "-h": ("hostname", "one"),
    "--stop-signal": ("stop_signal", "one"), "--memory": ("memory", "one"),
    "-m": ("memory", "one"), "--ip": ("ip", "one"), "--pod": ("pod", "one"),
    "--userns": ("userns", "one"), "--restart": ("restart", "one"),
    "--log-driver": ("log_driver", "one"), "--ipc": ("ipc", "one"),
    "--env": ("env", "many"), "-e": ("env", "many"), "--label": ("label", "many"),
    "-l": ("label", "many"), "--network": ("network", "many"), "--net": ("network", "many"),
    "--volume": ("volume", "many"), "-v": ("volume", "many"),
    "--publish": ("publish", "many"), "-p": ("publish", "many"),
    "--mount": ("mount", "many"), "--tmpfs": ("tmpfs", "many"),
    "--cap-add": ("cap_add", "many"), "--cap-drop": ("cap_drop", "many"),
    "--security-opt": ("security_opt", "many"), "--add-host": ("add_host", "many"),
    "--dns": ("dns", "many"), "--env-file": ("env_file", "many"),
    "--ulimit": ("ulimit", "many"),
    "--group-add": ("group_add", "many"), "--log-opt": ("log_opt", "many"),
}
PS_OPTIONS: dict[str, tuple[str, str]] = {
    "--all": ("all_", "flag"), "-a": ("all_", "flag"), "--quiet": ("quiet", "flag"),
    "-q": ("quiet", "flag"), "--no-trunc": ("no_trunc", "flag"), "--latest": ("latest", "flag"),
    "-l": ("latest", "flag"), "--pod": ("pod", "flag"), "-p": ("pod", "flag"),
    "--noheading": ("noheading", "flag"), "--external": ("external", "flag"),
    "--filter": ("filters", "many"), "-f": ("filters", "many"), "--format": ("fmt", "one"),
    "--sort": ("sort", "one"),
}


EXEC_OPTIONS: dict[str, tuple[str, str]] = {
    "--detach": ("detach", "flag"), "-d": ("detach", "flag"),
    "--interactive": ("interactive", "flag"), "-i": ("interactive", "flag"),
    "--tty": ("tty", "flag"), "-t": ("tty", "flag"), "--privileged": ("privileged", "flag"),
    "--latest": ("latest", "flag"), "-l": ("latest", "flag"),
    "--env": ("env", "many"), "-e": ("env", "many"), "--env-file": ("env_file", "many"),
    "--user": ("user", "one"), "-u": ("user", "one"), "--workdir": ("workdir", "one"),
    "-w": ("workdir", "one"), "--detach-keys": ("detach_keys", "one"),
}


def parse(args: list[str], options: dict[str, tuple[str, str]] = RUN_OPTIONS,
          first: str | None = "image") -> dict[str, object] | None:
    """The keyword arguments for the command's function from the words after its name (None:
    not a line this parser takes). ``first``: the parameter of the first argument, which ends
    the options (run's IMAGE, exec's CONTAINER), the rest being the command; None: the
    command takes no arguments."""
    kwargs: dict[str, object] = {}
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if not word.startswith("-") or word == "-":
            if not word or first is None:
                return None
            kwargs[first] = word
            kwargs["command"] = args[i:] or None
            return kwargs
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        spec = options.get(name)
        if spec is None:
            if word.startswith("--") or len(word) < 3:
                return None
            shorts = [options.get("-" + c) for c in word[1:]]  # grouped flags: -it
            if not all(s is not None and s[1] == "flag" for s in shorts):
                return None
            for s in shorts:
                assert s is not None
                kwargs[s[0]] = True
            continue
        param, kind = spec
        if kind == "flag":
            if eq:
                return None  # --rm=true: bool_values' rewriting is the typer path's
            kwargs[param] = True
            continue
        if not eq:
            if i >= len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        if kind == "one":
            kwargs[param] = value
        else:
            values = kwargs.setdefault(param, [])
            assert isinstance(values, list)
            values.append(value)
    return None if first else kwargs  # no image: typer says what is missing


def runner(args: list[str]) -> Callable[[], None] | None:
    """`pyman run|create|exec|ps ...` as one call, or None for the typer path."""
    if not args or args[0] not in ("run", "create", "exec", "ps"):
        return None
    if args[0] == "ps":
        kwargs = parse(args[1:], PS_OPTIONS, None)
    elif args[0] == "exec":
        kwargs = parse(args[1:], EXEC_OPTIONS, "container")
    else:
        kwargs = parse(args[1:])
    if kwargs is None:
        return None
    verb = args[0]

    def call() -> None:
        from pyman.cli.context import GLOBAL

        # what the root callback sets when no global option is given
        GLOBAL.update(runtime=None, events_backend=None, cgroup_manager=None, tmpdir=None,
                      storage_opt=None, runtime_flags=None, default_mounts_file=None)
        if verb == "ps":
            from pyman.cli.ps_command import ps

            ps(**kwargs)  # type: ignore[arg-type]
        elif verb == "exec":
            from pyman.cli.exec_command import exec_

            exec_(**kwargs)  # type: ignore[arg-type]
        else:
            from pyman.cli.run_command import make_command

            make_command(verb == "create")(**kwargs)

    return call
