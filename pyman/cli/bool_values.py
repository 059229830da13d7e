"""Go-style values on boolean flags: Podman (pflag) takes ``--rm=true``, ``--sig-proxy=false``,
``-i=false``; click takes a flag alone. The words are rewritten before click sees them:
``=true`` is the flag, ``=false`` its ``--no-`` form (or nothing, for a flag that is off by
default). Only the options of the command being run are touched, and only up to where its
own arguments end (``pyman run IMAGE --rm=true`` passes ``--rm=true`` to the container)."""

from __future__ import annotations

from typing import Any

TRUE = ("true", "1", "t", "yes")  # what Go's strconv.ParseBool takes, lower-cased
FALSE = ("false", "0", "f", "no")


def normalize(command: Any, args: list[str]) -> list[str]:
    if not any("=" in a for a in args):
        return args  # the common case costs nothing
    out: list[str] = []
    cmd = command
    params = _options(cmd)
    positional_seen = False
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out.extend(args[i - 1:])
            break
        if not arg.startswith("-") or arg == "-":
            sub = getattr(cmd, "commands", {}).get(arg) if hasattr(cmd, "commands") else None
            if sub is not None and not positional_seen:
                cmd = sub
                params = {**params, **_options(sub)}
                out.append(arg)
                continue
            positional_seen = True
            out.append(arg)
            if not _interspersed(cmd):
                out.extend(args[i:])  # the rest is the container's command line
                break
            continue
        name, eq, value = arg.partition("=")
        opt = params.get(name)
        if opt is None:
            out.append(arg)
            continue
        if not eq:
            out.append(arg)
            if not getattr(opt, "is_flag", False) and getattr(opt, "nargs", 1) == 1 \
                    and not getattr(opt, "count", False):
                if i < len(args):
                    out.append(args[i])  # the option's value, whatever it looks like
                    i += 1
            continue
        if not getattr(opt, "is_bool_flag", False) or getattr(opt, "count", False):
            out.append(arg)
            continue
        out.extend(_rewrite(opt, name, value, arg))
    return out


def _rewrite(opt: Any, name: str, value: str, arg: str) -> list[str]:
    low = value.lower()
    if low not in TRUE + FALSE:
        return [arg]  # click says what is wrong with it
    on = low in TRUE
    if name in getattr(opt, "secondary_opts", ()):  # --no-x=true means off
        on = not on
    if on:
        return [opt.opts[0]]
    if opt.secondary_opts:
        return [opt.secondary_opts[0]]
    return [] if not opt.default else [arg]


def _interspersed(cmd: Any) -> bool:
    settings = getattr(cmd, "context_settings", None) or {}
    return bool(settings.get("allow_interspersed_args",
                             getattr(cmd, "allow_interspersed_args", True)))


def _options(cmd: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for p in getattr(cmd, "params", []):
        for n in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ())):
            if n.startswith("-"):
                found[n] = p
    return found
