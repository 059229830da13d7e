"""Unpacked layers, one directory per diff_id, shared by every image that has the layer.

``layers/<hex>/diff`` is the layer's tree in overlay form, ``layers/<hex>/layer.json`` its
metadata. A layer is unpacked into ``layers/.tmp-<hex>-<pid>`` and renamed into place when
complete, so a pull killed at any moment never leaves a layer a later command would use.
Files in a layer belong to sub-ids, so creating and removing them happens in the user namespace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyman.errors import CorruptRecord, LayerError, PymanError
from pyman.storage.atomic import write_json

if TYPE_CHECKING:
    from pyman.rootless.userns import UsernsTask


@dataclass(frozen=True)
class LayerSource:
    """A layer to unpack: its blob and the diff id it must hash to."""

    blob: Path  # the (compressed) blob in the blob store
    diff_id: str  # sha256 of the uncompressed tar, from the image config


def _hex(diff_id: str) -> str:
    algo, _, hexpart = diff_id.partition(":")
    if algo != "sha256" or len(hexpart) != 64:
        raise LayerError(f"unsupported layer diff_id {diff_id!r}")
    return hexpart


class LayerStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, diff_id: str) -> Path:
        return self.root / _hex(diff_id)

    def diff(self, diff_id: str) -> Path:
        return self.dir(diff_id) / "diff"

    def has(self, diff_id: str) -> bool:
        return (self.dir(diff_id) / "layer.json").exists()

    def ensure(self, sources: list[LayerSource]) -> list[str]:
        """Unpack the layers not yet present, in parallel, in one user namespace.

        Returns the warnings the unpacking produced (skipped device nodes ...).
        """
        missing = [s for s in dict.fromkeys(sources) if not self.has(s.diff_id)]
        if not missing:
            return []
        self.root.mkdir(parents=True, exist_ok=True)
        from pyman.rootless.result_pipe import str_list
        from pyman.rootless.userns import run_in_userns

        return run_in_userns(lambda: self._unpack_all(missing), decode=str_list)

    def unpack_as_ready(self, sources: list[LayerSource]) -> LayerFeed:
        """Start unpacking ``sources`` (those not present yet) as their blobs arrive: the
        caller downloads and says ready(blob) for each complete one; an unpacking child in
        the user namespace takes them as they come. Start it before any thread runs."""
        return LayerFeed(self, [s for s in dict.fromkeys(sources) if not self.has(s.diff_id)])

    def _unpack_fed(self, feed_r: int, sources: list[LayerSource]) -> list[str]:
        """In the user namespace: unpack sources[i] for each index read from ``feed_r``;
        EOF before every source came means the pull gave up."""
        self._clean_stale()
        workers = _Workers(self)
        with os.fdopen(feed_r, "rb") as feed:
            for line in feed:
                i = int(line)
                if 0 <= i < len(sources):
                    workers.start(i, sources[i])
        complete = len(workers.started) == len(sources)
        results = workers.results()
        if not complete:
            raise LayerError("the pull stopped before every layer was downloaded")
        return [w for ws in results for w in ws]

    def _unpack_all(self, sources: list[LayerSource]) -> list[str]:
        self._clean_stale()
        workers = _Workers(self)
        for i, src in enumerate(sources):
            workers.start(i, src)
        return [w for ws in workers.results() for w in ws]

    def adopt(self, tree: str, diff_id: str, size: int) -> None:
        """In the user namespace: ``tree`` (a build container's overlay upper dir, already in
        the layer store's form) becomes the layer ``diff_id`` by renames, as an unpacked
        layer becomes one (complete, then renamed into place)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._clean_stale()  # those of builds killed meanwhile
        final = self.dir(diff_id)
        tmp = self.root / f".tmp-{_hex(diff_id)}-{os.getpid()}-adopt"
        tmp.mkdir()
        try:
            os.rename(tree, tmp / "diff")
            os.chmod(tmp / "diff", 0o755)  # as an unpacked layer's (its mode is not the image's)
            write_json(tmp / "layer.json", {"diff_id": diff_id, "size": size,
                                            "root_mode": -1})
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(diff_id):
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _unpack_one(self, src: LayerSource) -> list[str]:
        from pyman.storage.unpack import unpack_layer

        final = self.dir(src.diff_id)
        tmp = self.root / f".tmp-{_hex(src.diff_id)}-{os.getpid()}-{id(src)}"
        (tmp / "diff").mkdir(parents=True)
        try:
            with open(src.blob, "rb") as blob:
                result = unpack_layer(blob, str(tmp / "diff"), src.diff_id)
            write_json(tmp / "layer.json", {
                "diff_id": result.diff_id, "size": result.size,
                "root_mode": -1 if result.root_mode is None else result.root_mode})
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(src.diff_id):  # not a concurrent pull that won the race
                    raise
        except LayerError as exc:  # name the layer: an image has many
            raise LayerError(f"layer {src.diff_id[:19]}: "
                             f"{str(exc).removeprefix('layer ')}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return result.warnings

    def _clean_stale(self) -> None:
        """Remove temporary dirs of pulls that were killed (their pid is gone)."""
        for entry in self.root.glob(".tmp-*"):
            pid = entry.name.split("-")[2] if entry.name.count("-") >= 3 else ""
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)

    def remove(self, diff_ids: list[str]) -> None:
        """Delete layers (inside the user namespace: their files belong to sub-ids)."""
        dirs = [self.dir(d) for d in diff_ids if self.dir(d).exists()]
        if not dirs:
            return

        def rm() -> None:
            for d in dirs:
                # rename first so a half-removed layer never looks complete
                doomed = d.with_name(f".tmp-rm-{os.getpid()}-{d.name}")
                with contextlib.suppress(FileNotFoundError):
                    os.rename(d, doomed)
                    shutil.rmtree(doomed)

        from pyman.rootless.userns import run_in_userns

        run_in_userns(rm)

    def info(self, diff_id: str) -> dict[str, object]:
        """layer.json ({"diff_id", "size"}); a damaged one is named once on stderr and reads
        as {} (size unknown): the layer's tree is unpacked whole before it is written."""
        from pyman.storage import records

        path = self.dir(diff_id) / "layer.json"
        try:
            data = records.read_json(path)
            if data is None:
                return {}
            if not isinstance(data, dict) or not records.fits(data.get("size", 0), "int"):
                raise CorruptRecord(path, 'not an object with an integer "size"')
        except CorruptRecord as err:
            records.warn(err, "size unknown:")
            return {}
        return data


class _Workers:
    """Layers unpacked side by side, each in a forked process of its own (at most
    MAX_WORKERS at once): tar parsing is Python's work, which threads would do one at a time
    under the GIL. Each reports its warnings, or its error, on a pipe (rootless/result_pipe)."""

    MAX_WORKERS = 4

    def __init__(self, store: LayerStore) -> None:
        self.store = store
        self.started: dict[int, tuple[int, int]] = {}  # index -> (pid, result pipe)
        self.done: dict[int, list[str] | PymanError] = {}

    def start(self, i: int, src: LayerSource) -> None:
        """Start unpacking ``src`` (the i-th source) unless it was; only one thread runs."""
        from pyman.rootless import result_pipe

        if i in self.started:
            return
        running = [j for j in self.started if j not in self.done]
        if len(running) >= self.MAX_WORKERS:
            self._wait(running[0])
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: report and exit
            os.close(r)
            result_pipe.report(w, lambda: self.store._unpack_one(src))
        os.close(w)
        self.started[i] = (pid, r)

    def _wait(self, i: int) -> None:
        from pyman.rootless import result_pipe

        pid, r = self.started[i]
        try:
            self.done[i] = result_pipe.str_list(
                result_pipe.receive(r, pid, "a layer's unpacking"))
        except PymanError as exc:
            self.done[i] = exc

    def results(self) -> list[list[str]]:
        """Every started layer's warnings, in source order, once all are done; the first
        error (in that order) raised."""
        for i in sorted(self.started):
            if i not in self.done:
                self._wait(i)
        out: list[list[str]] = []
        for i in sorted(self.started):
            done = self.done[i]
            if isinstance(done, PymanError):
                raise done
            out.append(done)
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LayerFeed:
    """Layers unpacked while the pull still downloads others (LayerStore.unpack_as_ready)."""

    def __init__(self, store: LayerStore, sources: list[LayerSource]) -> None:
        self._index: dict[str, list[int]] = {}
        for i, src in enumerate(sources):
            self._index.setdefault(str(src.blob), []).append(i)
        self._task: UsernsTask[list[str]] | None = None
        self._w = -1
        if not sources:
            return
        store.root.mkdir(parents=True, exist_ok=True)
        from pyman.rootless.result_pipe import str_list
        from pyman.rootless.userns import UsernsTask as Task

        r, w = os.pipe()

        def child() -> list[str]:
            os.close(w)
            return store._unpack_fed(r, sources)

        try:
            self._task = Task(child, decode=str_list)
        except BaseException:
            os.close(w)
            raise
        finally:
            os.close(r)
        self._w = w

    def ready(self, blob: Path) -> None:
        """``blob`` is complete and verified: its layers may be unpacked (thread-safe: one
        short write to a pipe is atomic)."""
        for i in self._index.get(str(blob), ()):
            if self._w >= 0:
                os.write(self._w, f"{i}\n".encode())

    def finish(self) -> list[str]:
        """Wait for the unpacking; its warnings. Raises what it failed with."""
        if self._w >= 0:
            os.close(self._w)
            self._w = -1
        return (self._task.wait() or []) if self._task is not None else []

    def abort(self) -> None:
        """The pull failed: the child finishes what it started and goes."""
        try:
            self.finish()
        except PymanError:
            pass  # the pull's own error is the one to report
