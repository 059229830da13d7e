"""A read-only look into an overlay stack without mounting it: what shell completion needs
to offer the paths inside an image or a container (`run IMAGE /et<TAB>`, `cp CTR:/tm<TAB>`).

Layers are given top first (a container's upper dir, then its image's layers). A name is
what the top-most layer holding it says: an overlay whiteout (a 0/0 character device, or
a `.wh.NAME` file as fuse-overlayfs may leave) hides it below, an opaque dir
(`user.overlay.opaque`/`trusted.overlay.opaque` = y, or `.wh..wh..opq`) hides everything
below it, and a non-directory hides the directories below it. Symbolic links resolve inside
the stack, never on the host (an absolute target starts again at the stack's root, `..`
stops there), as securejoin does for Podman.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

WHITEOUT = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_LINKS = 40  # as the kernel's ELOOP limit


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool  # a directory itself (a link to one is not, as readdir's d_type)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    for attr in ("user.overlay.opaque", "trusted.overlay.opaque"):
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return os.path.lexists(os.path.join(path, OPAQUE_MARKER))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:  # missing, or in a dir we may not search: not there for us
        return None


class MergedView:
    def __init__(self, layers: list[str]) -> None:
        self.layers = layers

    def _dirs(self, parts: tuple[str, ...]) -> list[str] | None:
        """The layer dirs making up the directory ``parts`` (no links in it), top first;
        None when it is not a directory of the stack."""
        dirs = list(self.layers)
        for part in parts:
            below: list[str] = []
            for d in dirs:
                path = os.path.join(d, part)
                st = _lstat(path)
                if st is None:
                    if os.path.lexists(os.path.join(d, WHITEOUT + part)):
                        break
                    continue
                if _is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                    break  # hidden below, or a file over whatever is below
                below.append(path)
                if _opaque(path):
                    break
            if not below:
                return None
            dirs = below
        return dirs

    def _top(self, parts: tuple[str, ...]) -> tuple[str, os.stat_result] | None:
        """The top-most real entry for ``parts`` (its parent a directory of the stack)."""
        parent = self._dirs(parts[:-1])
        if parent is None:
            return None
        for d in parent:
            path = os.path.join(d, parts[-1])
            st = _lstat(path)
            if st is None:
                if os.path.lexists(os.path.join(d, WHITEOUT + parts[-1])):
                    return None
                continue
            return None if _is_whiteout(st) else (path, st)
        return None

    def resolve(self, path: str) -> tuple[str, ...]:
        """``path`` as components from the stack's root, links followed inside it; the
        components that do not exist are kept as written (securejoin's rule)."""
        pending = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            found = self._top((*done, part))
            if found is not None and stat.S_ISLNK(found[1].st_mode) and hops < MAX_LINKS:
                hops += 1
                target = os.readlink(found[0])
                if target.startswith("/"):
                    done = []
                pending = [p for p in target.split("/") if p] + pending
                continue
            done.append(part)
        return tuple(done)

    def is_dir(self, parts: tuple[str, ...]) -> bool:
        return self._dirs(parts) is not None

    def listdir(self, parts: tuple[str, ...]) -> list[Entry]:
        """The directory's entries as the mounted stack would show them, sorted."""
        dirs = self._dirs(parts)
        seen: dict[str, Entry | None] = {}  # None: whited out
        for d in dirs or []:
            try:
                scan = list(os.scandir(d))
            except OSError:
                continue
            for e in scan:
                name = e.name
                if name == OPAQUE_MARKER:
                    continue
                if name.startswith(WHITEOUT):
                    seen.setdefault(name[len(WHITEOUT):], None)
                    continue
                if name in seen:
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                seen[name] = None if _is_whiteout(st) else Entry(name, stat.S_ISDIR(st.st_mode))
        return sorted((e for e in seen.values() if e is not None), key=lambda e: e.name)
