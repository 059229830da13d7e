"""What a helper writes on its result pipe is plain JSON checked by the parent: a crafted
pickle, garbage, a wrong shape or an endless stream is refused, never executed; errors keep
their type (among the known ones) and exit code. And a sealed helper imports nothing more."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest

from pyman.errors import (
    CommandCannotRunError,
    ContainerNotFoundError,
    LayerError,
    PymanError,
    ResultError,
)
from pyman.rootless import result_pipe
from pyman.rootless.result_pipe import decode, receive, report


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _through_pipe(data: bytes) -> object:
    """``data`` as if a helper had written it, read and decoded as the parent does."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the fake helper
        os.close(r)
        os.write(w, data)
        os._exit(0)
    os.close(w)
    return receive(r, pid, "the test helper")


def test_a_crafted_pickle_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps(("ok", _Boom(marker)))
    pickle.loads(pickle.dumps(_Boom(tmp_path / "control")))  # what unpickling it would do
    assert (tmp_path / "control").exists()
    with pytest.raises(ResultError, match="not valid JSON"):
        _through_pipe(payload)
    assert not marker.exists()


@pytest.mark.parametrize("data", [b"\x80\x04garbage", b"[1, 2]", b'{"ok": 1, "x": 2}',
                                  b'{"error": "boom"}', b'{"error": {"type": "PymanError"}}',
                                  b"\xff\xfe"])
def test_garbage_and_wrong_shapes_are_refused(data: bytes) -> None:
    with pytest.raises(ResultError):
        _through_pipe(data)


def test_a_report_without_end_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(result_pipe, "MAX_RESULT", 1 << 16)
    with pytest.raises(ResultError, match="larger than"):
        _through_pipe(b'{"ok": "' + b"a" * (1 << 17) + b'"}')


def test_errors_keep_known_types_and_exit_codes() -> None:
    err = CommandCannotRunError("unable to find user x")
    err.exit_code = 255
    with pytest.raises(CommandCannotRunError, match="unable to find user x") as exc:
        decode(result_pipe.encode_error(err))
    assert exc.value.exit_code == 255
    with pytest.raises(ContainerNotFoundError):
        decode(result_pipe.encode_error(ContainerNotFoundError("no such")))
    # an unknown class name becomes a plain error with the message; a bad code is ignored
    with pytest.raises(PymanError) as plain:
        decode(b'{"error": {"type": "SystemExit", "message": "hi", "exit_code": 999}}')
    assert type(plain.value) is PymanError and plain.value.exit_code == 125
    # a subclass the parent does not know is sent as its nearest known base
    from pyman.errors import PortError

    with pytest.raises(PymanError) as base:
        decode(result_pipe.encode_error(PortError("port taken")))
    assert type(base.value) is PymanError and str(base.value) == "port taken"


def test_a_real_helper_round_trip() -> None:
    def run(fn: object) -> object:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            os.close(r)
            report(w, fn)  # type: ignore[arg-type]
        os.close(w)
        return receive(r, pid, "the test helper")

    assert run(lambda: {"a": [1, "b"], "t": (1, 2)}) == {"a": [1, "b"], "t": [1, 2]}

    def fail() -> None:
        raise LayerError("layer is hostile")

    with pytest.raises(LayerError, match="layer is hostile"):
        run(fail)

    def crash() -> None:
        raise KeyError("k")

    with pytest.raises(PymanError, match="KeyError: 'k'"):
        run(crash)


def test_sealed_imports_load_nothing_new(tmp_path: Path) -> None:
    (tmp_path / "planted_mod.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    sys.path.insert(0, str(tmp_path))
    try:
        def attempt(seal: bool) -> bool:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover
                os.close(r)

                def work() -> bool:
                    if seal:
                        result_pipe.seal_imports()
                    try:
                        __import__("planted_mod")
                    except ImportError:
                        return False
                    return True

                report(w, work)
            os.close(w)
            return bool(receive(r, pid, "the test helper"))

        assert attempt(seal=True) is False
        assert not (tmp_path / "imported").exists()
        assert attempt(seal=False) is True  # the control: unsealed, it would be loaded
        assert (tmp_path / "imported").exists()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("planted_mod", None)
