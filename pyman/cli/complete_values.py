"""What a TAB offers beyond commands and flags: container, image, volume, pod and network
names (engine/completion.py reads them straight from the store's JSON files: a completion
must answer in a blink), and the fixed values of flags. The cli modules name these functions as
``autocompletion=`` callbacks; main.py uses ``completion_words`` to import only the command
being completed.

Names are offered as Podman offers them: names always, 12-character ids once two characters
are typed; image names in full, or without their registry (and ``library/``) when that is
what was typed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Values = list[str]
ALIVE = ("running", "starting", "paused")  # engine.completion's live states

# fixed flag values
NETWORK_MODES = ("pasta", "slirp4netns", "host", "none", "private", "bridge", "container:",
                 "ns:")
PULL_POLICIES = ("always", "missing", "never", "newer")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
LOG_DRIVERS = ("k8s-file", "json-file", "none", "passthrough")  # pyman has no journald
SHELLS = ("bash", "zsh", "fish")
SIGNALS = ("HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
           "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
           "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS")


def completion_init() -> None:
    """typer's classes for each shell; for bash, ours (PymanBash)."""
    import typer._completion_classes as classes
    from typer._click.shell_completion import add_completion_class
    from typer._completion_classes import completion_init as typer_init

    typer_init()
    add_completion_class(_bash_class(), "bash")
    # zsh and fish show help texts, which typer runs through rich's markup parser: pyman's
    # are plain text ("[ip:][hostPort:]containerPort[/tcp|/udp]" is no markup and made rich
    # raise), and rich is a slow import for a TAB
    classes._sanitize_help_text = _plain


def _plain(text: str) -> str:
    return text


def add_command_names(group: Any, names: list[str]) -> None:
    """Bare commands of these names: all a TAB on the command word needs in bash, which shows
    no help texts, so no command module is imported."""
    from typer.core import TyperCommand

    for name in names:
        group.add_command(TyperCommand(name))


def _bash_class() -> type:
    from typer._click.shell_completion import CompletionItem, split_arg_string
    from typer._completion_classes import BashComplete

    class PymanBash(BashComplete):
        """The words from the line up to the cursor (_PYMAN_COMP_LINE, which our script
        passes), not from COMP_WORDS, where bash has split ``container:name`` in three. The
        answers lose what bash will not replace: the current word's part up to its last
        ':' or '='."""

        def get_completion_args(self) -> tuple[list[str], str]:
            line = os.environ.get("_PYMAN_COMP_LINE")
            if line is None:
                return super().get_completion_args()  # an older script
            words = split_arg_string(line)
            if not words or line[-1:].isspace():
                return words[1:], ""
            return words[1:-1], words[-1]

        def format_completion(self, item: CompletionItem) -> str:
            value = str(item.value)
            try:
                cwords = split_arg_string(os.environ["COMP_WORDS"])
                bash_word = cwords[int(os.environ["COMP_CWORD"])]
            except (KeyError, ValueError, IndexError):
                bash_word = ""
            typed = self.get_completion_args()[1]
            cut = typed[:len(typed) - len(bash_word)] if typed.endswith(bash_word) else ""
            return value[len(cut):] if cut and value.startswith(cut) else value

    return PymanBash


def completion_words(var: str) -> tuple[list[str], str]:
    """The words before the one being completed, and that one, as the shell's completion
    class reads them from the environment (bash: _PYMAN_COMP_LINE, else COMP_WORDS and
    COMP_CWORD; zsh and fish: _TYPER_COMPLETE_ARGS)."""
    from typer._click.shell_completion import get_completion_class

    instruction, _, shell = os.environ.get(var, "").partition("_")
    cls = get_completion_class(shell) if instruction == "complete" else None
    if cls is None:
        return [], ""
    try:
        return cls(None, {}, "pyman", var).get_completion_args()  # type: ignore[arg-type]
    except (KeyError, ValueError):
        return [], ""


# ---------------------------------------------------------------- names


def _match(items: list[tuple[str, str]], incomplete: str) -> Values:
    """Names that start with what was typed; ids (12 chars) once two characters are."""
    out = [name for _, name in items if name.startswith(incomplete)]
    if len(incomplete) > 1:
        out += [ident[:12] for ident, _ in items if ident.startswith(incomplete)]
    return out


def container_names(incomplete: str, want: Callable[[str], bool] | None = None) -> Values:
    from pyman.engine.system import completion

    return _match(completion.containers(want), incomplete)


def containers(incomplete: str) -> Values:
    """Every container (rm, logs, inspect, restart, wait, port, top, rename, export...)."""
    return container_names(incomplete)


def running_containers(incomplete: str) -> Values:
    """Containers that run (stop, kill, exec, pause, attach)."""
    return container_names(incomplete, lambda s: s == "running")


def startable_containers(incomplete: str) -> Values:
    """Containers that do not run (start)."""
    return container_names(incomplete, lambda s: s not in ALIVE)


def paused_containers(incomplete: str) -> Values:
    return container_names(incomplete, lambda s: s == "paused")


def images(incomplete: str) -> Values:
    from pyman.engine.system import completion

    out: Values = []
    for ident, names in completion.images():
        for name in names:
            short = name.split("/", 1)[1] if "/" in name else name
            for cand in (name, short, short.removeprefix("library/")):
                if cand.startswith(incomplete):
                    out.append(cand)
                    break
        if len(incomplete) > 1 and ident.startswith(incomplete.removeprefix("sha256:")):
            out.append(ident[:12])
    return out


def volumes(incomplete: str) -> Values:
    from pyman.engine.system import completion

    return sorted(n for n in completion.volumes() if n.startswith(incomplete))


def volume_sources(incomplete: str) -> Values:
    """-v's first part: a volume name (paths are the shell's file completion)."""
    if ":" in incomplete or incomplete.startswith(("/", ".", "~")):
        return []
    return volumes(incomplete)


def pods(incomplete: str) -> Values:
    from pyman.engine.system import completion

    return _match(completion.pods(), incomplete)


def pods_and_containers(incomplete: str) -> Values:
    """kube generate: a pod, or containers."""
    return pods(incomplete) + containers(incomplete)


def containers_images_volumes(incomplete: str) -> Values:
    """inspect: what it can show."""
    return containers(incomplete) + images(incomplete) + volumes(incomplete)


# ---------------------------------------------------------------- fixed values


def _fixed(values: tuple[str, ...]) -> Callable[[str], Values]:
    def complete(incomplete: str) -> Values:
        return [v for v in values if v.startswith(incomplete)]

    return complete


def networks(incomplete: str) -> Values:
    if incomplete.startswith("container:"):
        return [f"container:{n}" for n in containers(incomplete.removeprefix("container:"))]
    return [v for v in NETWORK_MODES if v.startswith(incomplete)] + network_names(incomplete)


def network_names(incomplete: str) -> Values:
    """User-defined networks (Podman's definitions) and the default one."""
    from pyman.engine.system import completion

    return sorted(n for n in completion.networks() if n.startswith(incomplete))


def signals(incomplete: str) -> Values:
    """KILL or SIGKILL, as typed; any case."""
    prefix = "SIG" if incomplete.upper().startswith("SIG") else ""
    return [prefix + s for s in SIGNALS if (prefix + s).startswith(incomplete.upper())]


pull_policies = _fixed(PULL_POLICIES)
restart_policies = _fixed(RESTART_POLICIES)
log_drivers = _fixed(LOG_DRIVERS)
systemd_restart_policies = _fixed(("no", "on-success", "on-failure", "on-abnormal",
                                   "on-watchdog", "on-abort", "always"))
shells = _fixed(SHELLS)
bool_values = _fixed(("true", "false"))
image_volume_modes = _fixed(("bind", "tmpfs", "ignore"))
userns_modes = _fixed(("host", "keep-id", "keep-id:uid=", "keep-id:gid="))
formats = _fixed(("json",))
archive_formats = _fixed(("docker-archive", "oci-archive"))
manifest_formats = _fixed(("oci", "v2s2"))
inspect_types = _fixed(("all", "container", "image", "volume"))
sdnotify_modes = _fixed(("container", "conmon", "ignore"))
cgroups_modes = _fixed(("enabled", "disabled", "no-conmon", "split"))
