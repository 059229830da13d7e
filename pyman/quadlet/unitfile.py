"""The systemd unit file syntax, as Quadlet reads and writes it.

Sections keep their order and every entry its line number, so an error can name the file
and the line. Comments are kept and written back; a line ending in a backslash continues on
the next one (comment lines between are skipped, as systemd does).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class QuadletError(Exception):
    """A file Quadlet cannot convert: ``path:line: what``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")

    @classmethod
    def at(cls, unit: UnitFile, where: Entry | Section | None, message: str) -> QuadletError:
        """An error at an entry or section header: of a drop-in file when it came from one."""
        if where is None:
            return cls(unit.path, None, message)
        return cls(where.path or unit.path, where.line, message)


@dataclass
class Entry:
    key: str | None  # None: a comment line, kept as it was
    value: str
    line: int = 0
    path: str = ""  # a drop-in's path; "": the unit file's own


@dataclass
class Section:
    name: str
    line: int = 0
    entries: list[Entry] = field(default_factory=list)
    path: str = ""  # a drop-in's path when the section first appeared there

    def items(self, key: str) -> list[Entry]:
        return [e for e in self.entries if e.key == key]


TRUE = {"1", "yes", "true", "on", "y", "t"}
FALSE = {"0", "no", "false", "off", "n", "f"}


@dataclass
class UnitFile:
    path: str = ""
    sections: list[Section] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # comments before the first section

    # ------------------------------------------------------------------ reading
    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def entries(self, group: str, key: str) -> list[Entry]:
        """Every value of ``key``; an empty value resets the list, as in systemd."""
        s = self.section(group)
        out: list[Entry] = []
        for e in s.items(key) if s else []:
            if e.value == "":
                out = []
            else:
                out.append(e)
        return out

    def last(self, group: str, key: str) -> Entry | None:
        s = self.section(group)
        found = s.items(key) if s else []
        return found[-1] if found else None

    def lookup(self, group: str, key: str) -> str | None:
        e = self.last(group, key)
        return e.value if e else None

    def has(self, group: str, key: str) -> bool:
        return self.last(group, key) is not None

    def boolean(self, group: str, key: str) -> bool | None:
        e = self.last(group, key)
        if e is None:
            return None
        v = e.value.strip().lower()
        if v in TRUE:
            return True
        if v in FALSE:
            return False
        raise QuadletError.at(self, e,
                              f"invalid boolean {e.value!r} for {key} in [{group}] "
                              "(yes/no, true/false, on/off, 1/0)")

    # ------------------------------------------------------------------ changing
    def _ensure(self, group: str) -> Section:
        s = self.section(group)
        if s is None:
            s = Section(group)
            self.sections.append(s)
        return s

    def add(self, group: str, key: str, value: str) -> None:
        self._ensure(group).entries.append(Entry(key, value))

    def set(self, group: str, key: str, value: str) -> None:
        s = self._ensure(group)
        s.entries = [e for e in s.entries if e.key != key]
        s.entries.append(Entry(key, value))

    def merge(self, dropin: UnitFile) -> None:
        """A drop-in's sections and entries, after the unit's own (so its single-valued keys
        win, and its list entries add; an empty value resets a list)."""
        for ds in dropin.sections:
            s = self.section(ds.name)
            if s is None:
                s = Section(ds.name, ds.line, path=dropin.path)
                self.sections.append(s)
            s.entries.extend(Entry(e.key, e.value, e.line, dropin.path) for e in ds.entries)

    def rename(self, group: str, new: str) -> None:
        for s in self.sections:
            if s.name == group:
                s.name = new

    # ------------------------------------------------------------------ writing
    def text(self) -> str:
        out = list(self.header)
        for i, s in enumerate(self.sections):
            if i or out:
                out.append("")
            out.append(f"[{s.name}]")
            for e in s.entries:
                out.append(e.value if e.key is None else f"{e.key}={e.value}")
        return "\n".join(out) + "\n"


def parse(text: str, path: str) -> UnitFile:
    unit = UnitFile(path=path)
    current: Section | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number = i + 1
        raw = lines[i]
        i += 1
        line = raw.strip()
        if not line:
            continue
        if line[0] in "#;":
            if current is None:
                unit.header.append(line)
            else:
                current.entries.append(Entry(None, line, number))
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise QuadletError(path, number, f"invalid section header {line!r}")
            current = unit.section(line[1:-1])
            if current is None:
                current = Section(line[1:-1], number)
                unit.sections.append(current)
            continue
        # continuation lines: the backslash becomes a space
        while line.endswith("\\") and i < len(lines):
            nxt = lines[i].strip()
            i += 1
            if nxt[:1] in ("#", ";"):
                continue
            line = line[:-1] + " " + nxt
        if current is None:
            raise QuadletError(path, number, f"assignment outside of a section: {line!r}")
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not key:
            raise QuadletError(path, number, f"not a key=value line: {line!r}")
        current.entries.append(Entry(key, value.strip(), number))
    return unit
