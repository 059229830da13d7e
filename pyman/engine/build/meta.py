"""The instructions that change only the image config: ENV, LABEL, WORKDIR, USER, EXPOSE,
VOLUME, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from pyman.build.parser import Instruction, expand, key_values, split_words
from pyman.engine.build.state import State
from pyman.errors import PymanError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
         "m": 60_000_000_000, "h": 3_600_000_000_000}


def _duration(text: str, what: str) -> int:
    """A Go duration ("30s", "1m30s") in nanoseconds."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise PymanError(f"HEALTHCHECK --{what}={text}: not a duration (e.g. 30s, 1m30s)")
    return int(total)


def shell_of(state: State) -> list[str]:
    return list(state.cfg.get("Shell") or ["/bin/sh", "-c"])


def command(inst: Instruction, state: State) -> list[str]:
    """CMD/ENTRYPOINT/RUN's argv: the exec form as written, the shell form through SHELL."""
    if inst.json_args is not None:
        return list(inst.json_args)
    return [*shell_of(state), inst.rest]


def apply_meta(state: State, inst: Instruction, env: dict[str, str], escape: str,
               scope: Any) -> None:
    cfg = state.cfg
    cmd = inst.cmd
    if cmd == "ENV":
        for k, v in key_values(inst.rest, env, "ENV", escape):
            env_list = [e for e in cfg.get("Env") or [] if e.split("=", 1)[0] != k]
            cfg["Env"] = [*env_list, f"{k}={'' if v == chr(0) else v}"]
            env[k] = v
    elif cmd == "LABEL":
        labels = dict(cfg.get("Labels") or {})
        for k, v in key_values(inst.rest, env, "LABEL", escape):
            labels[k] = "" if v == "\0" else v
        cfg["Labels"] = labels
    elif cmd == "WORKDIR":
        path = expand(inst.rest, env, escape).strip().strip('"')
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/",
                                                              path))
    elif cmd == "USER":
        cfg["User"] = expand(inst.rest, env, escape).strip()
    elif cmd == "EXPOSE":
        ports = dict(cfg.get("ExposedPorts") or {})
        for p in split_words(inst.rest, env, escape):
            port, _, proto = p.partition("/")
            if not port or not re.fullmatch(r"\d+(-\d+)?", port):
                raise PymanError(f"EXPOSE {p}: not a port (PORT[/tcp|udp|sctp])")
            ports[f"{port}/{(proto or 'tcp').lower()}"] = {}
        cfg["ExposedPorts"] = ports
    elif cmd == "VOLUME":
        vols = dict(cfg.get("Volumes") or {})
        names = [expand(v, env, escape) for v in inst.json_args] \
            if inst.json_args is not None else split_words(inst.rest, env, escape)
        for v in names:
            if not v.strip():
                raise PymanError("VOLUME: an empty path")
            vols[v] = {}
        cfg["Volumes"] = vols
    elif cmd == "CMD":
        cfg["Cmd"] = command(inst, state) if inst.rest else None
        scope.cmd_set = True
    elif cmd == "ENTRYPOINT":
        cfg["Entrypoint"] = command(inst, state) if inst.rest else None
        if not getattr(scope, "cmd_set", False):
            cfg.pop("Cmd", None)  # a base image's CMD is dropped by a new ENTRYPOINT
    elif cmd == "SHELL":
        cfg["Shell"] = list(inst.json_args or [])
    elif cmd == "STOPSIGNAL":
        cfg["StopSignal"] = expand(inst.rest, env, escape).strip()
    elif cmd == "MAINTAINER":
        state.config["author"] = inst.rest
    elif cmd == "ONBUILD":
        word = inst.rest.split(None, 1)[0].upper() if inst.rest.split() else ""
        if word in ("ONBUILD", "FROM", "MAINTAINER"):
            raise PymanError(f"ONBUILD {word} is not allowed")
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), inst.rest]
    elif cmd == "HEALTHCHECK":
        cfg["Healthcheck"] = _healthcheck(inst, state)
    else:
        raise PymanError(f"{cmd} is not handled")
    for key in ("Cmd", "Entrypoint"):
        if key in cfg and cfg[key] is None:
            del cfg[key]


def _healthcheck(inst: Instruction, state: State) -> dict[str, Any]:
    rest = inst.rest.strip()
    if rest.upper() == "NONE":
        return {"Test": ["NONE"]}
    word, _, body = rest.partition(" ")
    if word.upper() != "CMD" or not body.strip():
        raise PymanError("HEALTHCHECK takes NONE or CMD <command> (with --interval, "
                         "--timeout, --start-period, --retries before CMD)")
    body = body.strip()
    import json

    try:
        parsed = json.loads(body) if body.startswith("[") else None
    except ValueError:
        parsed = None
    test = ["CMD", *parsed] if isinstance(parsed, list) else ["CMD-SHELL", body]
    out: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        value = inst.flag(flag)
        if value:
            out[key] = _duration(value, flag)
    retries = inst.flag("retries")
    if retries:
        if not retries.isdigit():
            raise PymanError(f"HEALTHCHECK --retries={retries}: not a number")
        out["Retries"] = int(retries)
    return out
