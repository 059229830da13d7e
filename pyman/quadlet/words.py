"""Splitting values into words and quoting command lines, the way systemd does.

``split`` is systemd's extract_first_word with unquoting and C escapes (what Quadlet uses for
Exec=, PodmanArgs=, Environment= ...); ``quote_cmdline`` writes an argv as an ExecStart= value
that systemd reads back as the same argv.
"""

from __future__ import annotations

ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\", '"': '"', "'": "'", "s": " "}
SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
           "-_+=:,./%@^~!#*?$[]{}()&|<>")


class SplitError(ValueError):
    pass


def split(value: str) -> list[str]:
    words: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in " \t\n\r":
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        quote = ""
        while i < n:
            c = value[i]
            if c == "\\" and i + 1 < n:
                nxt = value[i + 1]
                if nxt == "x" and i + 3 < n:
                    try:
                        word.append(chr(int(value[i + 2:i + 4], 16)))
                    except ValueError:
                        raise SplitError(f"invalid escape in {value!r}") from None
                    i += 4
                    continue
                word.append(ESCAPES.get(nxt, nxt))
                i += 2
                continue
            if c == "\\":
                raise SplitError(f"trailing backslash in {value!r}")
            if quote:
                if c == quote:
                    quote = ""
                else:
                    word.append(c)
            elif c in "'\"":
                quote = c
            elif c in " \t\n\r":
                break
            else:
                word.append(c)
            i += 1
        if quote:
            raise SplitError(f"unbalanced quotes in {value!r}")
        words.append("".join(word))


def quote(word: str) -> str:
    if word and all(c in SAFE for c in word):
        return word
    out = []
    for c in word:
        if c in '\\"':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def quote_cmdline(argv: list[str]) -> str:
    return " ".join(quote(w) for w in argv)
