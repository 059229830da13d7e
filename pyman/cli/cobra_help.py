"""Help and usage errors in Podman's (cobra's) shape, for every command of the click tree.

Help texts are plain text, never markup: `[/tcp|/udp]` in a help string is printed as it is
(typer's rich renderer read it as a closing tag and crashed). Scripts read this output:
`Usage:` then `  podman cmd [options] ARG`, `Available Commands:`, `Options:`.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

from typer._click import exceptions as click_errors

HELP_NAMES = ["--help", "-h"]


def install(command: Any) -> None:
    """Podman's help on ``command`` and everything under it; -h is --help where no option of
    the command has taken -h (run and create: -h is --hostname, as in Podman)."""
    command.get_help = MethodType(_get_help, command)
    takes_h = any("-h" in getattr(p, "opts", ()) for p in command.params)
    names = ["--help"] if takes_h else HELP_NAMES
    command.context_settings = {**command.context_settings, "help_option_names": names}
    for sub in getattr(command, "commands", {}).values():
        install(sub)


def command_path(ctx: Any) -> str:
    words = []
    while ctx is not None:
        if ctx.info_name:
            words.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(words))


def _short_long(text: str | None) -> tuple[str, str]:
    lines = (text or "").strip().split("\n", 1)
    short = lines[0].strip().rstrip(".")
    long = lines[1].strip() if len(lines) > 1 else ""
    return short, long


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _arguments(command: Any) -> list[Any]:
    return [p for p in command.params if _is_argument(p)]


def _options(command: Any, ctx: Any) -> list[Any]:
    return [p for p in command.get_params(ctx)
            if not _is_argument(p) and not getattr(p, "hidden", False)]


def _arg_usage(arg: Any) -> str:
    name = (arg.metavar or arg.name or "ARG").upper().replace("-", "_")
    if arg.nargs == -1:
        if name == "COMMAND":  # run/exec: the command and its arguments
            return "[COMMAND [ARG...]]"
        if name.endswith("S") and not name.endswith("SS"):
            name = name[:-1]
        return f"{name} [{name}...]" if arg.required else f"[{name}...]"
    return name if arg.required else f"[{name}]"


def usage_line(command: Any, ctx: Any) -> str:
    path = command_path(ctx)
    if hasattr(command, "commands"):
        return f"{path} [options] [command]" if ctx.parent is None else f"{path} [command]"
    words = [path]
    if any(o.name != "help" for o in _options(command, ctx)):
        words.append("[options]")
    words += [_arg_usage(a) for a in _arguments(command)]
    return " ".join(words)


def _type_word(opt: Any) -> str:
    if getattr(opt, "is_flag", False) or getattr(opt, "count", False):
        return ""
    name = getattr(opt.type, "name", "text")
    word = {"integer": "int", "float": "float"}.get(name, "string")
    return "stringArray" if opt.multiple else word


def _option_rows(options: list[Any]) -> list[str]:
    cells = []
    for opt in options:
        # a click flag's "--no-x" form is ours (for "--x=false"): Podman lists only "--x"
        names = opt.opts + [o for o in opt.secondary_opts if not o.startswith("--no-")]
        shorts = [o for o in names if not o.startswith("--")]
        longs = [o for o in names if o.startswith("--")]
        flag = (f"{shorts[0]}, " if shorts else "    ") + ", ".join(longs or shorts[1:])
        word = _type_word(opt)
        cells.append((f"  {flag}" + (f" {word}" if word else ""),
                      " ".join((opt.help or "").split())))
    width = max((len(c[0]) for c in cells), default=0)
    return [f"{left.ljust(width)}   {text}".rstrip() for left, text in cells]


def _get_help(command: Any, ctx: Any) -> str:
    short, long = _short_long(command.help)
    out = [short, ""]
    if long:
        out += ["Description:", *("  " + ln if ln else "" for ln in long.split("\n")), ""]
    out += ["Usage:", "  " + usage_line(command, ctx), ""]
    subs = getattr(command, "commands", None)
    listing = [(n, _short_long(c.help)[0]) for n, c in (subs or {}).items() if not c.hidden]
    listing += list(getattr(command, "summaries", {}).items())  # main.SUMMARIES, for the root
    if listing:
        if ctx.parent is None:
            listing.append(("help", "Help about any command"))
        pad = max(11, *(len(n) for n, _ in listing))
        out.append("Available Commands:")
        out += [f"  {n.ljust(pad)} {text}" for n, text in sorted(listing)]
        out.append("")
    options = _options(command, ctx)
    if ctx.parent is not None:  # as Podman: --help is listed on the root only
        options = [o for o in options if o.name != "help"]
    if options and (not listing or ctx.parent is None):
        out += ["Options:", *_option_rows(options), ""]
    return "\n".join(out)


def path_in(root: Any, prog: str, args: list[str]) -> str:
    """The command path the words name (for the errors the parser raises without a
    context): the root, then each word that is a subcommand of the one before."""
    words, command = [prog], root
    for arg in args:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            if not arg.startswith("-") and len(words) > 1:
                break
            continue
        words.append(arg)
        command = sub
    return " ".join(words)


def usage_error_message(exc: Any, fallback_path: str = "pyman",
                        words: list[str] | None = None) -> tuple[str, bool]:
    """Podman's wording for a click usage error; True when the help goes first (a group
    called without its command)."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message()
    if isinstance(exc, click_errors.BadOptionUsage) and "requires an argument" in message:
        opt = exc.option_name
        what = opt if opt.startswith("--") else f"'{opt[1:]}' in {opt}"
        path = command_path(ctx) if ctx is not None else fallback_path
        return f"Error: flag needs an argument: {what}\nSee '{path} --help'", False
    if ctx is None:
        return f"Error: {message}", False
    path = command_path(ctx)
    command = ctx.command
    if isinstance(exc, click_errors.NoArgsIsHelpError) or message == "Missing command.":
        return f"Error: missing command '{path} COMMAND'", True
    if message.startswith("No such command "):
        name = message.removeprefix("No such command ").split("'")[1]
        known = {o for p in command.params for o in getattr(p, "opts", ())}
        flags = [a.split("=", 1)[0] for a in (words or []) if a.startswith("--") and a != "--"]
        unknown = [f for f in flags if f not in known]
        if unknown:  # cobra parses the flags before it looks the command up
            return f"Error: unknown flag: {unknown[0]}\nSee '{path} --help'", False
        return (f"Error: unrecognized command `{path} {name}`\n"
                f"Try '{path} --help' for more information"), False
    if isinstance(exc, click_errors.NoSuchOption):
        opt = exc.option_name
        what = (f"unknown flag: {opt}" if opt.startswith("--")
                else f"unknown shorthand flag: '{opt[1:2]}' in {opt}")
        return f"Error: {what}\nSee '{path} --help'", False
    args = _arguments(command)
    if message.startswith("Got unexpected extra argument"):
        if ctx.params.get("latest"):  # Podman checks -l against names first
            return "Error: --latest and containers cannot be used together", False
        if not args:
            return f"Error: `{path}` takes no arguments", False
        extra = message.rsplit(" (", 1)[1].rstrip(")").split()
        most = sum(max(a.nargs, 0) for a in args)
        return f"Error: `{path}` accepts at most {most} arg(s), received {most + len(extra)}", \
            False
    if isinstance(exc, click_errors.MissingParameter) and \
            _is_argument(exc.param):
        need = sum(1 for a in args if a.required)
        got = sum(1 for a in args if ctx.params.get(a.name) not in (None, (), []))
        return f"Error: `{path}` requires at least {need} arg(s), only received {got}", False
    return f"Error: {message}", False
