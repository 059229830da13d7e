"""`--format` templates: the part of Go's text/template that people use with Podman.

Supported: `{{.Field}}`, `{{.A.B}}`, `{{.}}`, pipelines (`{{.X | json}}`), the functions json,
index, upper, lower, title, len, join, print, println, printf, truncate, and `if`/`else`/`range`/
`with` blocks with `end`. A leading `table` prints a header row and aligns columns as Podman's
tabwriter does (min width 12, padding 2). `\\t` and `\\n` typed literally become tab and newline.
Data are dicts (Podman's field names) or objects with attributes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pyman.errors import TemplateError

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|]+')


@dataclass
class _Node:
    kind: str  # text, action, if, range, with
    text: str = ""
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)
    pos: int = 0


def _parse(src: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node | None, list[_Node]]] = [(None, root)]
    pos = 0
    for m in _ACTION.finditer(src):
        if m.start() > pos:
            stack[-1][1].append(_Node("text", src[pos:m.start()]))
        pos = m.end()
        expr = m.group(1)
        word = expr.split(None, 1)[0] if expr else ""
        rest = expr[len(word):].strip()
        if word in ("if", "range", "with"):
            node = _Node(word, rest, pos=m.start())
            stack[-1][1].append(node)
            stack.append((node, node.body))
        elif word == "else":
            owner = stack[-1][0]
            if owner is None:
                raise TemplateError(f"template: unexpected {{{{else}}}} at {m.start()}")
            stack[-1] = (owner, owner.orelse)
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError(f"template: unexpected {{{{end}}}} at {m.start()}")
            stack.pop()
        elif expr.startswith("/*"):
            continue
        else:
            stack[-1][1].append(_Node("action", expr, pos=m.start()))
    if len(stack) > 1:
        raise TemplateError(f"template: unexpected EOF: {{{{{stack[-1][0].kind}}}}} "  # type: ignore[union-attr]
                            "without {{end}}")
    if pos < len(src):
        root.append(_Node("text", src[pos:]))
    return root


def _type_name(obj: Any) -> str:
    return type(obj).__name__


class GoMap(dict[str, Any]):
    """A Go map (labels, an event's Attributes), not a struct: a missing key is no error,
    it prints as <no value>."""


def _field(obj: Any, name: str, pos: int) -> Any:
    if isinstance(obj, GoMap):
        return obj.get(name)
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        # Podman answers {{.Id}} and {{.ID}} alike (its inspect normalizes the case)
        folded = [k for k in obj if isinstance(k, str) and k.lower() == name.lower()]
        if len(folded) == 1:
            return obj[folded[0]]
        methods = getattr(obj, "methods", None)  # a Go method of the document's type
        if isinstance(methods, dict) and methods.get(name) in obj:
            return obj[methods[name]]
    elif hasattr(obj, name):
        return getattr(obj, name)
    raise TemplateError(f"template: output:1:{pos + 3}: executing \"output\" at <.{name}>: "
                        f"can't evaluate field {name} in type {_type_name(obj)}")


def _json(value: Any) -> str:
    # Go's encoding/json: compact, no spaces after separators
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: getattr(o, "__dict__", str(o)))


def _to_str(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_to_str(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_to_str(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    return str(value)


def _index(obj: Any, *keys: Any) -> Any:
    for key in keys:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return None if isinstance(obj, dict) else ""
    return obj


def _printf(fmt: str, *args: Any) -> str:
    conv = re.sub(r"%v", "%s", fmt)
    return conv % tuple(_to_str(a) if isinstance(a, (list, dict, type(None))) else a
                        for a in args)


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "index": _index,
    "upper": lambda s: _to_str(s).upper(),
    "lower": lambda s: _to_str(s).lower(),
    "title": lambda s: _to_str(s).title(),
    "len": len,
    "join": lambda items, sep: sep.join(_to_str(i) for i in items),
    "print": lambda *a: "".join(_to_str(x) for x in a),
    "println": lambda *a: " ".join(_to_str(x) for x in a) + "\n",
    "printf": _printf,
    "truncate": lambda s, n: _to_str(s)[: int(n)],
}


def _operand(tok: str, dot: Any, pos: int) -> Any:
    if tok == ".":
        return dot
    if tok.startswith("\x00"):  # a parenthesized pipeline, evaluated already (_groups)
        return _GROUPS[int(tok[1:])]
    if tok.startswith("."):
        value = dot
        for part in tok[1:].split("."):
            value = _field(value, part, pos)
        return value
    if tok[0] in "\"`":
        return json.loads(tok) if tok[0] == '"' else tok[1:-1]
    if tok in ("true", "false"):
        return tok == "true"
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    if tok in FUNCS:
        return FUNCS[tok]()
    raise TemplateError(f'template: output:1:{pos + 3}: function "{tok}" not defined')


def _command(tokens: list[str], dot: Any, pos: int, piped: list[Any]) -> Any:
    head = tokens[0]
    if head in FUNCS:
        args = [_operand(t, dot, pos) for t in tokens[1:]] + piped
        try:
            return FUNCS[head](*args)
        except TemplateError:
            raise
        except Exception as exc:  # wrong arity or types: Go reports it as an error too
            raise TemplateError(f"template: output:1:{pos + 3}: executing \"output\" at "
                                f"<{head}>: error calling {head}: {exc}") from None
    if len(tokens) > 1 or piped:
        raise TemplateError(f"template: output:1:{pos + 3}: can't give argument to "
                            f"non-function {head}")
    return _operand(head, dot, pos)


_GROUPS: list[Any] = []
_GROUP = re.compile(r"\(([^()]*)\)((?:\.\w+)*)")


def _groups(expr: str, dot: Any, pos: int) -> str:
    """``(pipeline).Field...`` (innermost first) -> a placeholder for its value, as Go's
    templates evaluate a parenthesized argument."""
    def one(m: re.Match[str]) -> str:
        value = _eval(m.group(1), dot, pos)
        for part in m.group(2).split(".")[1:]:
            value = _field(value, part, pos)
        _GROUPS.append(value)
        return f"\x00{len(_GROUPS) - 1}"

    while "(" in expr:
        new = _GROUP.sub(one, expr)
        if new == expr:
            break
        expr = new
    return expr


def _eval(expr: str, dot: Any, pos: int) -> Any:
    if "(" in expr and not expr.lstrip().startswith(('"', "`")):
        expr = _groups(expr, dot, pos)
    value: list[Any] = []
    cmds: list[list[str]] = [[]]
    for tok in _TOKEN.findall(expr):
        if tok == "|":
            cmds.append([])
        else:
            cmds[-1].append(tok)
    if any(not c for c in cmds):
        raise TemplateError(f"template: output:1:{pos + 3}: missing value for command")
    for cmd in cmds:
        value = [_command(cmd, dot, pos, value)]
    return value[0]


def _truthy(value: Any) -> bool:
    return bool(value) and value != "<no value>"


def _exec(nodes: list[_Node], dot: Any, out: list[str]) -> None:
    for n in nodes:
        if n.kind == "text":
            out.append(n.text)
        elif n.kind == "action":
            out.append(_to_str(_eval(n.text, dot, n.pos)))
        elif n.kind in ("if", "with"):
            value = _eval(n.text, dot, n.pos)
            if _truthy(value):
                _exec(n.body, value if n.kind == "with" else dot, out)
            else:
                _exec(n.orelse, dot, out)
        elif n.kind == "range":
            items = _eval(n.text, dot, n.pos)
            seq = list(items.values()) if isinstance(items, dict) else list(items or [])
            for item in seq:
                _exec(n.body, item, out)
            if not seq:
                _exec(n.orelse, dot, out)


def normalize(fmt: str) -> tuple[str, bool]:
    """(template, is_table): Podman's literal `\\t`/`\\n`, and the `table` prefix."""
    fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
    stripped = fmt.lstrip()
    if stripped.startswith("table"):
        body = stripped[len("table"):].lstrip(" ")
        # Podman's tableReplacer: a space between the fields of a table is a column break
        parts = re.split(r"({{.*?}})", body, flags=re.S)
        return "".join(p if i % 2 else p.replace(" ", "\t") for i, p in enumerate(parts)), True
    return fmt, False


class Template:
    def __init__(self, fmt: str) -> None:
        self.source, self.table = normalize(fmt)
        self.nodes = _parse(self.source)

    def render(self, data: Any) -> str:
        out: list[str] = []
        _GROUPS.clear()  # one render's parenthesized values
        _exec(self.nodes, data, out)
        return "".join(out)

    def header(self, headers: dict[str, str] | None = None) -> str:
        """The header row of a `table` template: each `{{.Field}}` becomes its title."""
        names = headers or {}

        def title(m: re.Match[str]) -> str:
            expr = m.group(1).strip()
            fld = expr.split("|")[0].strip().split()[-1] if expr else ""
            if fld.startswith("."):
                key = fld[1:]
                return names.get(key, re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).upper())
            return ""

        return _ACTION.sub(title, self.source)


def tabwrite(lines: Iterable[str], minwidth: int = 12, padding: int = 2) -> str:
    """Go's tabwriter as Podman configures it: cells end at a tab; the last cell is free."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell) + padding, minwidth)
    out = []
    for cells in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        out.append("".join(parts) + cells[-1])
    return "\n".join(out)


def render_list(fmt: str, items: Iterable[Any], headers: dict[str, str] | None = None) -> str:
    """Render one line per item (newline-terminated unless the template has its own), with a
    header and aligned columns for `table` templates. Returns the text to print (no final
    newline)."""
    tpl = Template(fmt)
    rendered = [tpl.render(i) for i in items]
    lines: list[str] = []
    if tpl.table:
        lines.append(tpl.header(headers))
    for text in rendered:
        lines.extend(text.rstrip("\n").split("\n") if text else [""])
    if tpl.table:
        return tabwrite(lines)
    return "\n".join(lines)


def print_listing(fmt: str, items: list[Any], headers: dict[str, str] | None = None,
                  noheading: bool = False) -> None:
    """A list command's output, as Podman's `ls` commands print it: a template that starts
    with `{{range` sees the whole list at once; `--noheading` drops a table's header;
    otherwise render_list's lines."""
    tpl = Template(fmt)
    if fmt.lstrip().startswith("{{range"):
        print(tpl.render(items), end="")
    elif noheading and tpl.table:
        print(tabwrite(line for i in items for line in tpl.render(i).split("\n")))
    else:
        print(render_list(fmt, items, headers))
