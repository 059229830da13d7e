"""`pyman --help` (and `-h`, `help`) without typer: the root's help is the same text every
time, and building it through typer costs ~200 M instructions against ~30 M for this (the
issue-14 budget is 50 ms). tests/unit/test_root_help.py holds it to typer's rendering; a
new global option or command shows there first."""

from __future__ import annotations

# the global options as cli/global_opts.py declares them (flags, help), in its order
OPTIONS = [
    ("    --log-level string", "Log messages above specified level (trace, debug, info, "
     "warn, warning, error, fatal, panic) (default \"warn\")"),
    ("-v, --version", "Print the version and exit."),
    ("    --runtime string", "OCI runtime to use: a name on PATH or a path."),
    ("    --default-mounts-file string", "Path to default mounts file: SRC:DEST lines, "
     "mounted in every container"),
    ("    --runtime-flag stringArray", "Add global flags for the container runtime (FLAG or "
     "FLAG=VALUE, given to it as --FLAG)"),
    ("    --root string", "Path to the root directory in which data, including images, is "
     "stored (pyman's store is its pyman/ directory)"),
    ("    --runroot string", "Path to the 'run directory' where all state information is "
     "stored (pyman's is its pyman/ directory)"),
    ("    --storage-driver string", "Select which storage driver is used to manage storage "
     "of images and containers (overlay or vfs)"),
    ("    --storage-opt stringArray", "Used to pass an option to the storage driver "
     "(accepted; pyman's drivers take none)"),
    ("    --volumepath string", "Path to the volume directory in which volume data is stored"),
    ("    --tmpdir string", "Path to the tmp directory for libpod state content (accepted; "
     "pyman keeps its state in --runroot)"),
    ("    --events-backend string", "Events backend to use (\"file\"|\"journald\"|\"none\"; "
     "journald writes the file too: pyman does not speak to the journal)"),
    ("    --cgroup-manager string", "Cgroup manager to use (\"cgroupfs\"|\"systemd\"; info "
     "reports it, pyman's runtime places the cgroups itself)"),
    ("    --noout", "do not output to stdout"),
    ("-r, --remote", "Access remote Podman service (pyman has none: refused)"),
    ("    --url string", "URL to access Podman service (pyman has none: refused)"),
    ("-c, --connection string", "Connection to use for remote Podman service (pyman has "
     "none: refused)"),
    ("-h, --help", "Show this message and exit."),
]


def applies(args: list[str], environ: dict[str, str]) -> bool:
    """The root's help, as typer would print it: no remote service named (it hides
    --remote then) and no shell asking for completions."""
    return args in (["--help"], ["-h"], ["help"]) and not any(
        environ.get(k) for k in ("CONTAINER_HOST", "CONTAINER_CONNECTION", "_PYMAN_COMPLETE"))


def text(prog: str) -> str:
    from pyman.cli.main import SUMMARIES

    summaries = {**SUMMARIES, "help": "Help about any command"}
    width = max(map(len, summaries))
    commands = [f"  {name.ljust(width)} {summaries[name]}" for name in sorted(summaries)]
    flags_width = max(len(flags) for flags, _ in OPTIONS)
    options = [f"  {flags.ljust(flags_width)}   {help_}" for flags, help_ in OPTIONS]
    return ("Manage pods, containers and images\n\nDescription:\n  pyman: Podman's commands, "
            f"rootless and daemonless.\n\nUsage:\n  {prog} [options] [command]\n\n"
            "Available Commands:\n" + "\n".join(commands) + "\n\nOptions:\n"
            + "\n".join(options) + "\n\n")
