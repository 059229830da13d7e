"""Running a container's healthcheck and keeping its results, as Podman's libpod does.

The results live in ``<data>/containers/<id>/healthcheck.log`` (Podman's name and JSON:
Status, FailingStreak, the last 5 Log entries), written under ``healthcheck.lock``. A check
is an exec of the Test's command with its output captured (at most 500 characters kept)
and a timeout; who runs it: `pyman healthcheck run`, a systemd user timer where a user
manager runs, else the container's monitor at the interval (monitor/lean.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pyman.config import Paths
from pyman.engine.health.config import command
from pyman.errors import HealthTimeout, PymanError

LOG_FILE = "healthcheck.log"
MAX_LOGS = 5
MAX_OUTPUT = 500


def results_path(container_dir: str | Path) -> Path:
    return Path(container_dir) / LOG_FILE


def read_results(container_dir: str | Path) -> dict[str, Any]:
    """Podman's HealthCheckResults; a missing or damaged file reads as none yet."""
    from pyman.storage.atomic import read_json

    empty: dict[str, Any] = {"Status": "", "FailingStreak": 0, "Log": None}
    try:
        doc = read_json(results_path(container_dir))
    except ValueError:
        return empty
    if not (isinstance(doc, dict) and isinstance(doc.get("Status"), str)
            and isinstance(doc.get("FailingStreak"), int)
            and isinstance(doc.get("Log"), list | None)):
        return empty
    return doc


def set_status(container_dir: str | Path, status: str) -> None:
    """At each start: "starting" (the log and streak stay, as Podman's)."""
    from pyman.storage.atomic import locked, write_json

    with locked(Path(container_dir) / "healthcheck.lock"):
        doc = read_results(container_dir)
        doc["Status"] = status
        write_json(results_path(container_dir), doc, sync=False)


def _record(container_dir: str, entry: dict[str, Any], retries: int, in_start: bool) -> str:
    from pyman.storage.atomic import locked, write_json

    with locked(Path(container_dir) / "healthcheck.lock"):
        doc = read_results(container_dir)
        if entry["ExitCode"] == 0:
            doc["Status"], doc["FailingStreak"] = "healthy", 0
        else:
            if not doc["Status"]:
                doc["Status"] = "healthy"
            if not in_start:
                doc["FailingStreak"] += 1
                if doc["FailingStreak"] >= retries:
                    doc["Status"] = "unhealthy"
        doc["Log"] = [*(doc["Log"] or []), entry][-MAX_LOGS:]
        write_json(results_path(container_dir), doc, sync=False)
        return str(doc["Status"])


def _exec_captured(paths: Paths, cid: str, argv: list[str], timeout: float
                   ) -> tuple[int, str, bool]:
    """(exit code, output, timed out) of ``argv`` exec'd in the container, stdout and
    stderr together. A command that cannot run (not found, not executable) is exit 1 with
    the reason as output, as in Podman."""
    import select

    from pyman.engine.containers.exec import ExecOptions, ExecService

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child runs the exec session and reports by code
        code = 125
        try:
            os.close(r)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(w, 1)
            os.dup2(w, 2)
            res = ExecService(paths).run(cid, ExecOptions(command=argv))
            code = res.exit_code or 0
        except PymanError as exc:
            os.write(2, f"{exc}\n".encode())
            code = exc.exit_code if exc.exit_code in (126, 127) else 125
        except BaseException as exc:  # noqa: BLE001 - the child reports by its exit code
            os.write(2, f"{exc}\n".encode())
        os._exit(code)
    os.close(w)
    out = bytearray()
    deadline = time.monotonic() + timeout
    timed_out = False
    with os.fdopen(r, "rb", buffering=0) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([f], [], [], left)
            if not ready:
                continue
            chunk = f.read(65536)
            if not chunk:
                break
            if len(out) < 4 * MAX_OUTPUT:
                out += chunk
    if timed_out:
        import signal

        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    if code in (126, 127):  # the runtime could not run it: a failed check, not an error
        code = 1
    elif code == 125 and not timed_out:
        raise PymanError(text.strip() or "the healthcheck's exec session failed")
    return code, text, timed_out


def run_check(paths: Paths, key: str) -> str:
    """Run ``key``'s healthcheck once; its status after it (healthy | unhealthy | starting),
    the on-failure action done when it turned unhealthy. Podman's errors: not found, not
    running, no healthcheck (exit 125)."""
    from pyman.engine import Engine
    from pyman.engine.containers.inspect import rfc3339
    from pyman.errors import ContainerNotFoundError

    engine = Engine(paths)
    svc = engine.containers
    try:
        c = svc.store.find(key)
    except ContainerNotFoundError as exc:
        raise PymanError(f"unable to look up {key} to perform a health check: {exc}"
                         ) from None
    st = svc.live_state(c.id)
    if st.status != "running":
        raise PymanError(f"container {c.id} is not running")
    argv = command(list(c.healthcheck.get("Test") or []))
    if not argv or not argv[0]:
        raise PymanError(f"container {c.id} has no defined healthcheck")
    timeout = int(c.healthcheck.get("Timeout") or 30_000_000_000) / 1e9
    start = time.time()
    code, output, timed_out = _exec_captured(paths, c.id, argv, timeout)
    end = time.time()
    if timed_out:
        code = -1
    in_start = bool(st.started_at) and start < (st.started_at or 0) + int(
        c.healthcheck.get("StartPeriod") or 0) / 1e9
    text = "\n".join(output.splitlines())[:MAX_OUTPUT]
    entry = {"Start": rfc3339(start), "End": rfc3339(end), "ExitCode": code, "Output": text}
    status = _record(str(svc.store.dir(c.id)), entry,
                     int(c.healthcheck.get("Retries") or 3), in_start)
    if status == "unhealthy":
        _on_failure(svc, c, c.health_on_failure)
    if timed_out:
        raise HealthTimeout(f"healthcheck command exceeded timeout of "
                            f"{_seconds(timeout)}", status)
    return "healthy" if code == 0 else "unhealthy"


def _seconds(value: float) -> str:
    from pyman.engine.health.config import go_duration_text

    return go_duration_text(int(value * 1e9))


def _on_failure(svc: Any, c: Any, action: str) -> None:
    import signal

    if action == "kill":  # done when the exit is recorded, as Podman's is
        svc.kill(c.id, signal.SIGKILL)
        svc.states.wait_exit(c.id, 10)
    elif action == "stop":
        svc.stop(c.id)
    elif action == "restart":
        # the monitor runs it again in place (monitor/restart.py): this may run inside its
        # user namespace, where a new monitor could not be started
        from pyman.monitor.restart import HEALTH_RESTART

        (svc.store.run_dir(c.id) / HEALTH_RESTART).touch()
        set_status(svc.store.dir(c.id), "starting")
        st = svc.live_state(c.id)
        svc.states.signal(st, int(c.stop_signal or signal.SIGTERM))
        if not svc.states.wait_exit(c.id, float(10 if c.stop_timeout is None
                                                else c.stop_timeout)):
            svc.states.signal(svc.live_state(c.id), signal.SIGKILL)
        _wait_running_again(svc, c.id, st.pid, 30)


def _wait_running_again(svc: Any, cid: str, old_pid: int, timeout: float) -> None:
    """Podman's restart action returns with the container running again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = svc.live_state(cid)
        if st.status == "running" and st.pid and st.pid != old_pid:
            return
        if st.status == "exited":  # the new run could not start: its error is recorded
            return
        time.sleep(0.05)
