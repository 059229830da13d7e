""".containerignore / .dockerignore: Go-style patterns (``*``, ``?``, ``[...]``, ``**``) with
``!`` exceptions, the last matching pattern deciding, as Docker's fileutils.PatternMatcher
(a pattern matching a parent directory matches what is below it)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from pyman.errors import PymanError


@dataclass(frozen=True)
class Pattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool  # a "!" pattern: re-includes
    regex: re.Pattern[str]


def _clean(path: str) -> str:
    path = os.path.normpath(path.strip())
    path = path.lstrip("/")
    return "" if path == "." else path


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # `**/`: zero or more directories
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise PymanError(f"bad ignore pattern {pattern!r}: '[' without ']'")
            body = pattern[i + 1:end]
            if body.startswith("^"):
                body = "!" + body[1:]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!")
                              else re.escape(body)).replace("\\-", "-") + "]")
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def parse_patterns(text: str) -> list[Pattern]:
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = _clean(line)
        if not cleaned:
            continue
        out.append(Pattern(cleaned, exclusion, _regex(cleaned)))
    return out


class Matcher:
    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.has_exclusions = any(p.exclusion for p in patterns)

    def excluded(self, rel: str) -> bool:
        """Is ``rel`` (relative to the context, '/'-separated) left out?"""
        parents = []
        parts = rel.split("/")
        for n in range(1, len(parts)):
            parents.append("/".join(parts[:n]))
        matched = False
        for p in self.patterns:
            hit = bool(p.regex.match(rel)) or any(p.regex.match(d) for d in parents)
            if hit:
                matched = not p.exclusion
        return matched

    def walk_dir(self, rel: str) -> bool:
        """May an excluded directory hold re-included files? (Docker: an exception pattern
        that starts with the directory's path.)"""
        if not self.has_exclusions:
            return False
        prefix = rel + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def load(context: str, ignorefile: str | None) -> Matcher:
    """The context's matcher: ``--ignorefile``, else .containerignore, else .dockerignore."""
    candidates = [ignorefile] if ignorefile else [
        os.path.join(context, ".containerignore"), os.path.join(context, ".dockerignore")]
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as f:
                return Matcher(parse_patterns(f.read()))
        except FileNotFoundError:
            if ignorefile:
                raise PymanError(f"--ignorefile {ignorefile}: no such file or directory"
                                 ) from None
        except OSError as exc:
            raise PymanError(f"cannot read the ignore file {path}: {exc.strerror}") from None
    return Matcher([])
