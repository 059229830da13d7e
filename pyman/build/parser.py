"""The Containerfile (Dockerfile) syntax: parser directives, comments, line continuations,
heredocs, instructions with their flags, and the JSON (exec) form. Every instruction keeps the
line it started on, so each error can name it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pyman.errors import ParseError, PymanError

INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
                "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
                "HEALTHCHECK", "SHELL")
# the flags each instruction takes (--name=value); anything else is refused
FLAGS = {
    "FROM": ("platform",),
    "RUN": ("mount", "network", "security"),
    "COPY": ("from", "chown", "chmod", "link", "parents", "exclude"),
    "ADD": ("chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"),
    "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries"),
}
HEREDOC_OK = ("RUN", "COPY", "ADD")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")


@dataclass
class Heredoc:
    name: str
    body: str
    expand: bool  # an unquoted delimiter: variables are expanded (in RUN, by the shell)


@dataclass
class Instruction:
    cmd: str  # upper case: RUN, COPY ...
    rest: str  # the text after the instruction word and its flags
    line: int  # where it starts (1-based)
    original: str  # the logical line as written (continuations joined)
    flags: dict[str, list[str]] = field(default_factory=dict)
    json_args: list[str] | None = None  # the exec form, when `rest` is a JSON string array
    heredocs: list[Heredoc] = field(default_factory=list)

    def flag(self, name: str) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else None

    @property
    def step_text(self) -> str:
        """How the step is shown: `RUN echo hi`, as Buildah prints it."""
        return self.original


@dataclass
class Containerfile:
    name: str
    instructions: list[Instruction]
    escape: str = "\\"


def _directives(lines: list[str]) -> tuple[str, int]:
    """The escape character and how many leading lines were directives."""
    escape, n, seen = "\\", 0, set()
    for raw in lines:
        m = _DIRECTIVE.match(raw.strip())
        if not m or not raw.lstrip().startswith("#"):
            break
        key = m.group(1).lower()
        if key in seen:
            break
        seen.add(key)
        if key == "escape":
            if m.group(2) not in ("\\", "`"):
                raise ParseError(f"invalid ESCAPE '{m.group(2)}'. Must be ` or \\")
            escape = m.group(2)
        n += 1
    return escape, n


def parse(text: str, name: str = "Containerfile") -> Containerfile:
    lines = text.replace("\r\n", "\n").split("\n")
    escape, start = _directives(lines)
    out: list[Instruction] = []
    i = start
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts = []
        while True:
            line = lines[i].rstrip()
            if line.endswith(escape) and i + 1 < len(lines):
                parts.append(line[:-1])
                i += 1
                # comments and empty lines inside a continuation are dropped, as Docker does
                while i < len(lines) and (not lines[i].strip() or
                                          lines[i].lstrip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(line.rstrip(escape) if line.endswith(escape) else line)
            i += 1
            break
        logical = "".join(parts).strip()
        inst, i = _instruction(logical, first, lines, i, name)
        out.append(inst)
    return Containerfile(name, out, escape)


def _instruction(logical: str, line: int, lines: list[str], i: int, name: str
                 ) -> tuple[Instruction, int]:
    word, _, rest = logical.partition(" ")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    cmd = word.upper()
    rest = rest.strip()
    if cmd not in INSTRUCTIONS:
        raise ParseError(f"{name}:{line}: unknown instruction: {word} (expected one of "
                         f"{', '.join(INSTRUCTIONS)})")
    flags: dict[str, list[str]] = {}
    allowed = FLAGS.get(cmd, ())
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        key, eq, value = token[2:].partition("=")
        if key not in allowed:
            raise ParseError(f"{name}:{line}: {cmd} does not take the flag --{key}"
                             + (f" (it takes: --{', --'.join(allowed)})" if allowed else ""))
        flags.setdefault(key, []).append(value if eq else "true")
        rest = after.strip()
    heredocs: list[Heredoc] = []
    if cmd in HEREDOC_OK:
        for m in _HEREDOC.finditer(rest):
            body_lines = []
            while i < len(lines):
                text = lines[i]
                i += 1
                check = text.lstrip("\t") if m.group(1) else text
                if check == m.group(3):
                    break
                body_lines.append(check)
            else:
                raise ParseError(f"{name}:{line}: the heredoc <<{m.group(3)} is never ended "
                                 f"(no line {m.group(3)} after it)")
            heredocs.append(Heredoc(m.group(3), "".join(b + "\n" for b in body_lines),
                                    not m.group(2)))
    json_args = None
    if rest.startswith("[") and cmd in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD",
                                          "VOLUME", "HEALTHCHECK"):
        try:
            parsed = json.loads(rest)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            json_args = parsed
    if cmd == "SHELL" and json_args is None:
        raise ParseError(f"{name}:{line}: SHELL requires the arguments to be in JSON form, "
                         'e.g. SHELL ["/bin/bash", "-c"]')
    needs_value = cmd not in ("CMD", "ENTRYPOINT", "RUN") or not heredocs
    if not rest and needs_value and cmd not in ("CMD", "ENTRYPOINT"):
        raise ParseError(f"{name}:{line}: {cmd} requires at least one argument")
    return Instruction(cmd, rest, line, logical, flags, json_args, heredocs), i


# -- words and variables ---------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _expand_var(text: str, j: int, env: dict[str, str]) -> tuple[str, int]:
    """``text[j]`` is ``$``: the expansion and the index after it."""
    if j + 1 < len(text) and text[j + 1] == "{":
        end = text.find("}", j + 2)
        if end < 0:
            raise PymanError(f"missing '}}' in {text!r}")
        inner = text[j + 2:end]
        m = _NAME.match(inner)
        if not m:
            raise PymanError(f"bad substitution {text[j:end + 1]!r}")
        key, op = m.group(0), inner[m.end():]
        value = env.get(key)
        if op.startswith(":-"):
            word = expand(op[2:], env)
            return (value if value else word), end + 1
        if op.startswith(":+"):
            word = expand(op[2:], env)
            return (word if value else ""), end + 1
        if op:
            raise PymanError(f"unsupported modifier {op!r} in {text[j:end + 1]!r}")
        return value or "", end + 1
    m = _NAME.match(text, j + 1)
    if not m:
        return "$", j + 1
    return env.get(m.group(0), ""), m.end()


def split_words(text: str, env: dict[str, str] | None, escape: str = "\\") -> list[str]:
    """Shell-like words: quotes group and are removed, the escape character escapes,
    ``$VAR``/``${VAR}`` (with ``:-`` and ``:+``) expand outside single quotes when ``env``
    is given."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    j, quote = 0, ""
    while j < len(text):
        ch = text[j]
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                cur.append(ch)
            j += 1
            continue
        if ch == escape and j + 1 < len(text):
            if quote == '"' and text[j + 1] not in ('"', escape, "$"):
                cur.append(ch)
            cur.append(text[j + 1])
            have = True
            j += 2
            continue
        if ch == "$" and env is not None:
            value, j = _expand_var(text, j, env)
            if value:
                cur.append(value)
            have = have or bool(value) or quote == '"'  # an empty unquoted one: no word
            continue
        if quote == '"':
            if ch == '"':
                quote = ""
            else:
                cur.append(ch)
            j += 1
            continue
        if ch in ("'", '"'):
            quote, have = ch, True
        elif ch.isspace():
            if have or cur:
                words.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(ch)
            have = True
        j += 1
    if quote:
        raise PymanError(f"unterminated quote in {text!r}")
    if have or cur:
        words.append("".join(cur))
    return words


def expand(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """Variables expanded in one string, quotes kept as written (FROM, WORKDIR, USER ...)."""
    out: list[str] = []
    j, in_single = 0, False
    while j < len(text):
        ch = text[j]
        if ch == "'":
            in_single = not in_single
        if ch == escape and j + 1 < len(text) and text[j + 1] == "$":
            out.append("$")
            j += 2
            continue
        if ch == "$" and not in_single:
            value, j = _expand_var(text, j, env)
            out.append(value)
            continue
        out.append(ch)
        j += 1
    return "".join(out)


def key_values(rest: str, env: dict[str, str], what: str, escape: str = "\\"
               ) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG pairs: ``k=v k2="v 2"``, or the legacy ``k v...`` form."""
    words = split_words(rest, env, escape)
    if not words:
        raise PymanError(f"{what} requires at least one argument")
    first = split_words(rest, None, escape)
    if "=" not in first[0]:
        if what == "ARG":
            return [(w, "\0") for w in words]  # no default
        if len(words) < 2:
            raise PymanError(f"{what} {words[0]} needs a value ({what} key=value)")
        # `ENV key value with spaces`: the rest of the line as written, expanded
        value = rest.strip()[len(first[0]):].strip()
        return [(words[0], expand(value, env, escape))]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not k:
            raise PymanError(f"{what}: a key is missing in {w!r}")
        out.append((k, v if eq else "\0"))
    return out
