"""The OCI runtime driver: error reading and classification, argv, calls, detection cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pyman.errors import (
    CommandCannotRunError,
    CommandNotFoundError,
    RuntimeNotFoundError,
    ToolError,
)
from pyman.runtime import detect
from pyman.runtime.detect import Detection, RuntimeStatus, cgroup_layout
from pyman.runtime.oci import OCIRuntime, error_from_output

Host = tuple[Path, Path, list[str], Callable[[str, str], RuntimeStatus]]

# exactly what runc 1.1.5 printed on this kind of host (stderr of `runc create`)
RUNC_NOT_FOUND = (
    'time="2026-11-25T06:25:08Z" level=warning msg="unable to get oom kill count" '
    'error="no directory specified for memory.oom_control"\n'
    'time="2026-11-25T06:25:08Z" level=error msg="runc create failed: unable to start '
    'container process: exec: \\"nosuch\\": executable file not found in $PATH"\n')
RUNC_MSGS = {
    127: ['runc create failed: unable to start container process: exec: "nosuch": '
          'executable file not found in $PATH',
          'runc create failed: unable to start container process: exec: "/nosuch": '
          'stat /nosuch: no such file or directory',
          "executable file `nosuch` not found in $PATH: No such file or directory"],  # crun
    126: ['runc create failed: unable to start container process: exec: "/etc/passwd": '
          'permission denied',
          'runc create failed: unable to start container process: exec: "/bin": '
          'permission denied',
          "open executable: Permission denied"],  # crun
}


def test_error_from_runc_logfmt_skips_warnings() -> None:
    assert error_from_output(RUNC_NOT_FOUND) == RUNC_MSGS[127][0]


def test_error_from_json_log() -> None:
    log = "\n".join(json.dumps(e) for e in [
        {"level": "warning", "msg": "w"},
        {"level": "error", "msg": "first"},
        {"level": "error", "msg": "the real one"},
    ])
    assert error_from_output(log) == "the real one"


def test_error_from_plain_text() -> None:
    assert error_from_output("cgroups in hybrid mode not supported, drop all controllers "
                             "from cgroupv2\n") == ("cgroups in hybrid mode not supported, "
                                                    "drop all controllers from cgroupv2")
    assert error_from_output("") == ""


# -- argv ------------------------------------------------------------------------------------


def test_argv_builders() -> None:
    rt = OCIRuntime("/usr/sbin/runc", "/run/x/oci", global_flags=["--debug"])
    assert rt.name == "runc"
    assert rt.create_argv("c1", "/b", "/b/pid") == [
        "/usr/sbin/runc", "--root", "/run/x/oci", "--debug", "create", "--bundle", "/b",
        "--pid-file", "/b/pid", "c1"]
    assert rt.create_argv("c1", "/b", "/b/pid", "/b/console.sock", log="/b/l")[4:] == [
        "--log", "/b/l", "--log-format", "json", "create", "--bundle", "/b", "--pid-file",
        "/b/pid", "--console-socket", "/b/console.sock", "c1"]
    assert rt.start_argv("c1")[-2:] == ["start", "c1"]
    assert rt.kill_argv("c1", 9, all=True)[-4:] == ["kill", "--all", "c1", "9"]
    assert rt.kill_argv("c1")[-3:] == ["kill", "c1", "TERM"]
    assert rt.delete_argv("c1")[-3:] == ["delete", "--force", "c1"]
    assert rt.delete_argv("c1", force=False)[-2:] == ["delete", "c1"]
    assert rt.state_argv("c1")[-2:] == ["state", "c1"]


# -- calls against a fake runtime ------------------------------------------------------------

FAKE = """#!/bin/sh
# fake OCI runtime: behaviour chosen by $FAKE_MODE
log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) shift 2;;
    --log) log=$2; shift 2;;
    --log-format) shift 2;;
    *) break;;
  esac
done
cmd=$1; shift
case "$cmd" in
  create)
    if [ "$FAKE_MODE" = notfound ]; then
      echo '{"level":"error","msg":"exec: \\"nosuch\\": executable file not found in $PATH"}' >> "$log"
      exit 1
    fi
    while [ $# -gt 1 ]; do [ "$1" = --pid-file ] && echo 4242 > "$2"; shift; done
    exit 0;;
  start)
    [ "$FAKE_MODE" = startfail ] && { echo 'time="x" level=error msg="exec: \\"/bin\\": permission denied"' >&2; exit 1; }
    exit 0;;
  state)
    [ "$1" = c1 ] && { echo '{"id":"c1","status":"running","pid":4242}'; exit 0; }
    echo "time=\\"x\\" level=error msg=\\"container does not exist\\"" >&2; exit 1;;
  kill) [ "$FAKE_MODE" = killfail ] && { echo "kill failed: no such process" >&2; exit 1; }; exit 0;;
  delete) exit 0;;
esac
exit 2
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[OCIRuntime, Path]:
    path = tmp_path / "runc"
    path.write_text(FAKE)
    path.chmod(0o755)
    monkeypatch.setenv("FAKE_MODE", "ok")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    return OCIRuntime(str(path), str(tmp_path / "root")), bundle


def test_create_returns_pid(fake: tuple[OCIRuntime, Path]) -> None:
    rt, bundle = fake
    assert rt.create("c1", str(bundle), str(bundle / "pid")) == 4242


def test_create_failure_reads_log(fake: tuple[OCIRuntime, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    rt, bundle = fake
    monkeypatch.setenv("FAKE_MODE", "notfound")
    with pytest.raises(CommandNotFoundError) as exc:
        rt.create("c1", str(bundle), str(bundle / "pid"))
    assert 'exec: "nosuch": executable file not found in $PATH' in str(exc.value)


def test_start_failure_is_classified(fake: tuple[OCIRuntime, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    rt, _ = fake
    rt.start("c1")
    monkeypatch.setenv("FAKE_MODE", "startfail")
    with pytest.raises(CommandCannotRunError):
        rt.start("c1")


def test_state(fake: tuple[OCIRuntime, Path]) -> None:
    rt, _ = fake
    assert rt.state("c1") == {"id": "c1", "status": "running", "pid": 4242}
    assert rt.state("other") is None


def test_kill_error_quotes_stderr(fake: tuple[OCIRuntime, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    rt, _ = fake
    rt.kill("c1", "KILL")
    rt.delete("c1")
    monkeypatch.setenv("FAKE_MODE", "killfail")
    with pytest.raises(ToolError) as exc:
        rt.kill("c1")
    assert "kill failed: no such process" in str(exc.value)


def test_missing_binary(tmp_path: Path) -> None:
    rt = OCIRuntime(str(tmp_path / "nope"), str(tmp_path))
    with pytest.raises(ToolError, match="not found"):
        rt.create("c1", str(tmp_path), str(tmp_path / "pid"))


def test_monitor_import_stays_lean() -> None:
    code = ("import sys; import pyman.runtime.oci, pyman.runtime.spec, pyman.runtime.bundle;"
            "bad = {'typer', 'rich', 'platformdirs', 'pyroute2', 'logging', 'dataclasses',"
            " 'typing'} & set(sys.modules); print(sorted(bad))")
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0,"
                          f" {root!r}); {code}"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- detection -------------------------------------------------------------------------------


def test_cgroup_layout(tmp_path: Path) -> None:
    def layout(lines: list[tuple[str, str]]) -> str:
        p = tmp_path / "mountinfo"
        p.write_text("".join(f"{i} 1 0:{i} / {pt} rw - {t} {t} rw\n"
                             for i, (pt, t) in enumerate(lines)))
        return cgroup_layout(str(p))

    assert layout([("/", "ext4"), ("/sys/fs/cgroup", "cgroup2")]) == "v2"
    assert layout([("/sys/fs/cgroup", "tmpfs"), ("/sys/fs/cgroup/cpu", "cgroup")]) == "v1"
    assert layout([("/sys/fs/cgroup", "tmpfs"), ("/sys/fs/cgroup/cpu", "cgroup"),
                   ("/sys/fs/cgroup/unified-nonexistent", "cgroup2")]) == "hybrid:?"
    assert layout([("/", "ext4")]) == "none"
    assert cgroup_layout(str(tmp_path / "absent")) == "unknown"


def test_preferred_order() -> None:
    assert detect.preferred_order("v2") == ("crun", "runc")
    assert detect.preferred_order("hybrid:hugetlb") == ("runc", "crun")


def test_summary() -> None:
    d = Detection([RuntimeStatus("runc", "/r", "1.1.5", True),
                   RuntimeStatus("crun", "/c", "1.8.1", False, "cgroups in hybrid mode")])
    assert d.summary() == "runc (crun 1.8.1 rejected: cgroups in hybrid mode)"
    assert Detection([RuntimeStatus("runc", "/r", "1", True)]).summary() == "runc"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    """Two fake runtimes on a private PATH, a fixed cgroup layout, a counting trial."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("runc", "crun"):
        (bindir / name).write_text("#!/bin/sh\n")
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(detect, "SEARCH_DIRS", ())
    monkeypatch.setattr(detect, "cgroup_layout", lambda: "hybrid:hugetlb")
    calls: list[str] = []

    def trial(path: str, work_dir: str) -> RuntimeStatus:
        calls.append(path)
        name = os.path.basename(path)
        ok = name == "runc"
        return RuntimeStatus(name, path, "9.9", ok, "" if ok else "cgroups in hybrid mode")

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return bindir, run_dir, calls, trial


def test_detect_trials_once_per_key(host: Host) -> None:
    bindir, run_dir, calls, trial = host
    first = detect.detect(str(run_dir), trial=trial)
    assert not first.cached
    assert [s.name for s in first.statuses] == ["runc", "crun"]
    assert first.chosen is not None and first.chosen.name == "runc"
    again = detect.detect(str(run_dir), trial=trial)
    assert again.cached and len(calls) == 2
    assert again.summary() == "runc (crun 9.9 rejected: cgroups in hybrid mode)"
    # an upgraded binary is a new key
    os.utime(bindir / "crun", ns=(1, 1))
    assert not detect.detect(str(run_dir), trial=trial).cached
    assert len(calls) == 4


def test_detect_new_cgroup_layout_retries(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    _, run_dir, calls, trial = host
    detect.detect(str(run_dir), trial=trial)
    monkeypatch.setattr(detect, "cgroup_layout", lambda: "v2")
    d = detect.detect(str(run_dir), trial=trial)
    assert not d.cached and [s.name for s in d.statuses] == ["crun", "runc"]


def test_corrupt_cache_is_ignored(host: Host) -> None:
    _, run_dir, calls, trial = host
    (run_dir / detect.CACHE_NAME).write_text("{not json")
    assert not detect.detect(str(run_dir), trial=trial).cached
    assert detect.detect(str(run_dir), trial=trial).cached


def test_select_picks_working(host: Host) -> None:
    bindir, run_dir, _, trial = host
    rt = detect.select(str(run_dir), "/oci", trial=trial)
    assert (rt.name, rt.path, rt.root, rt.version) == ("runc", str(bindir / "runc"), "/oci",
                                                      "9.9")


def test_select_explicit_is_honoured_without_trial(host: Host) -> None:
    bindir, run_dir, calls, trial = host
    rt = detect.select(str(run_dir), "/oci", "crun", trial=trial)
    assert rt.path == str(bindir / "crun") and calls == []
    rt = detect.select(str(run_dir), "/oci", str(bindir / "runc"), trial=trial)
    assert rt.name == "runc"


def test_select_explicit_missing(host: Host) -> None:
    _, run_dir, _, trial = host
    with pytest.raises(RuntimeNotFoundError, match="apt-get install runc"):
        detect.select(str(run_dir), "/oci", "youki", trial=trial)


def test_select_none_installed(host: Host) -> None:
    bindir, run_dir, _, trial = host
    for name in ("runc", "crun"):
        (bindir / name).unlink()
    with pytest.raises(RuntimeNotFoundError) as exc:
        detect.select(str(run_dir), "/oci", trial=trial)
    assert str(exc.value) == ("no OCI runtime found: install crun or runc: "
                              "`apt-get install crun` or `apt-get install runc`")


def test_select_none_works(host: Host) -> None:
    bindir, run_dir, _, _ = host

    def failing(path: str, work_dir: str) -> RuntimeStatus:
        return RuntimeStatus(os.path.basename(path), path, "1", False, "broken")

    with pytest.raises(RuntimeNotFoundError) as exc:
        detect.select(str(run_dir), "/oci", trial=failing)
    assert "runc: broken; crun: broken" in str(exc.value)
