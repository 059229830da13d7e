"""--log-driver k8s-file|json-file|none|passthrough and --log-opt max-size/path: what the
monitor writes, what `pyman logs` reads, what inspect shows (Podman 4.3's shapes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from lifecycle_util import NET

SCRIPT = "echo out; echo err >&2"


@pytest.fixture(autouse=True)
def _alpine(run_pyman) -> None:  # type: ignore[no-untyped-def]
    """Pulled beforehand: the tests compare stderr, which a pull would write to."""
    if run_pyman("image", "exists", "alpine").returncode != 0:
        assert run_pyman("pull", "-q", "alpine").returncode == 0


def log_config(run_pyman, name: str) -> dict:  # type: ignore[no-untyped-def]
    r = run_pyman("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]["HostConfig"]["LogConfig"]


def test_k8s_file_and_json_file_keep_a_log(run_pyman) -> None:
    for driver in ("k8s-file", "json-file"):
        name = f"ld-{driver}"
        r = run_pyman("run", "--name", name, "--log-driver", driver, *NET, "alpine", "sh",
                      "-c", SCRIPT)
        assert (r.returncode, r.stdout, r.stderr) == (0, "out\n", "err\n")
        logs = run_pyman("logs", name)
        assert (logs.returncode, logs.stdout, logs.stderr) == (0, "out\n", "err\n")
        cfg = log_config(run_pyman, name)
        assert cfg["Type"] == driver  # json-file is written as k8s-file, named as asked
        assert cfg["Path"].endswith("/ctr.log") and cfg["Config"] is None
        assert (cfg["Tag"], cfg["Size"]) == ("", "0B")
        lines = Path(cfg["Path"]).read_text().splitlines()
        assert [ln.split(" ", 1)[1] for ln in lines] == ["stdout F out", "stderr F err"]
        assert run_pyman("rm", name).returncode == 0


def test_none_keeps_no_log(run_pyman) -> None:
    r = run_pyman("run", "--name", "ld-none", "--log-driver", "none", *NET, "alpine", "sh",
                  "-c", SCRIPT)
    assert (r.returncode, r.stdout, r.stderr) == (0, "out\n", "err\n")  # still relayed
    logs = run_pyman("logs", "ld-none")
    assert (logs.returncode, logs.stdout) == (125, "")
    assert logs.stderr == ("Error: this container is using the 'none' log driver, cannot "
                           "read logs: this container is not logging output\n")
    cfg = log_config(run_pyman, "ld-none")
    assert (cfg["Type"], cfg["Path"]) == ("none", "")
    static = json.loads(run_pyman("inspect", "ld-none").stdout)[0]["StaticDir"]
    assert os.path.isdir(static) and not os.path.exists(os.path.join(static, "ctr.log"))
    assert run_pyman("rm", "ld-none").returncode == 0


def test_passthrough_gives_the_container_our_fds(run_pyman, pyman_bin, pyman_env,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open(out, "wb") as f:  # a file, not a pipe: the container writes into it itself
        r = subprocess.run([str(pyman_bin), "run", "--name", "ld-pass", "--log-driver",
                            "passthrough", *NET, "alpine", "sh", "-c",
                            "echo direct; readlink /proc/self/fd/1"],
                           stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.PIPE,
                           env=pyman_env, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "direct"
    # fd 1 of the container is the very file we opened (no relay pipe in between)
    assert lines[1].endswith(out.name) and not lines[1].startswith("pipe:")
    logs = run_pyman("logs", "ld-pass")
    assert logs.returncode == 125 and "'passthrough' log driver" in logs.stderr
    assert log_config(run_pyman, "ld-pass")["Type"] == "passthrough"
    assert run_pyman("rm", "ld-pass").returncode == 0


def test_passthrough_refused_on_a_tty(pyman_bin, pyman_env) -> None:  # type: ignore[no-untyped-def]
    # `script` gives pyman a terminal as stdio, as an interactive shell would
    cmd = f"{pyman_bin} run --rm --log-driver passthrough --network none alpine true"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=pyman_env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 125
    assert "Error: the '--log-driver passthrough' option cannot be used on a TTY" in r.stdout


def test_max_size_truncates_like_conmon(run_pyman) -> None:
    script = "for i in $(seq 1 100); do echo line-$i-xxxxxxxxxxxxxxxxxxxx; done"
    r = run_pyman("run", "--name", "ld-rot", "--log-opt", "max-size=1k", *NET, "alpine",
                  "sh", "-c", script)
    assert r.returncode == 0 and r.stdout.count("\n") == 100  # the client gets it all
    cfg = log_config(run_pyman, "ld-rot")
    assert cfg["Size"] == "1kB"
    size = os.path.getsize(cfg["Path"])
    assert 0 < size <= 1000
    # conmon's rule: an entry that would pass the limit starts a new file; 13 entries of
    # 74 bytes fit in 1000, so the last file holds lines 92-100
    logs = run_pyman("logs", "ld-rot").stdout.splitlines()
    assert logs == [f"line-{i}-" + "x" * 20 for i in range(92, 101)]
    assert run_pyman("rm", "ld-rot").returncode == 0


def test_log_path_and_option_errors(run_pyman, tmp_path: Path) -> None:
    path = tmp_path / "my.log"
    r = run_pyman("run", "--name", "ld-path", "--log-driver", "json-file", "--log-opt",
                  f"path={path}", "--log-opt", "tag=t1", *NET, "alpine", "echo", "x")
    assert (r.returncode, r.stdout) == (0, "x\n"), r.stderr
    assert path.read_text().endswith(" stdout F x\n")
    assert run_pyman("logs", "ld-path").stdout == "x\n"
    cfg = log_config(run_pyman, "ld-path")
    assert (cfg["Type"], cfg["Path"], cfg["Tag"]) == ("json-file", str(path), "t1")
    assert run_pyman("rm", "ld-path").returncode == 0
    for args, err in (
        (("--log-driver", "bogus"), "Error: running container create option: invalid log "
                                    "driver: invalid argument\n"),
        (("--log-opt", "bogus"), 'Error: invalid log option "bogus"\n'),
        (("--log-opt", "max-size=-1"), "Error: invalid size: '-1'\n"),
        (("--log-opt", "max-size=lots"), "Error: invalid size: 'lots'\n"),
    ):
        r = run_pyman("create", *args, *NET, "alpine", "true")
        assert (r.returncode, r.stderr, r.stdout) == (125, err, ""), args
    for value, shown in (("1024", "1.024kB"), ("1.5k", "1.5kB"), ("10M", "10MB")):
        r = run_pyman("create", "--name", "ld-size", "--log-opt", f"max-size={value}", *NET,
                      "alpine", "true")
        assert r.returncode == 0, r.stderr
        assert log_config(run_pyman, "ld-size")["Size"] == shown
        assert run_pyman("rm", "ld-size").returncode == 0


def test_containers_conf_log_driver_and_size_max(run_pyman, pyman_env, tmp_path: Path
                                                 ) -> None:  # type: ignore[no-untyped-def]
    """containers.conf [containers] log_driver is the default driver; log_size_max limits
    logs that have no max-size of their own (inspect's Size stays 0B, as Podman's)."""
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\nlog_driver = "json-file"\nlog_size_max = 8192\n')
    env = dict(pyman_env, CONTAINERS_CONF=str(conf))
    script = "for i in $(seq 1 300); do echo line-$i-xxxxxxxxxxxxxxxxxxxx; done"
    r = run_pyman("run", "--name", "ld-conf", *NET, "alpine", "sh", "-c", script, env=env)
    assert r.returncode == 0 and r.stdout.count("\n") == 300, r.stderr
    cfg = log_config(run_pyman, "ld-conf")
    assert (cfg["Type"], cfg["Size"]) == ("json-file", "0B")
    assert 0 < os.path.getsize(cfg["Path"]) <= 8192
    assert run_pyman("logs", "ld-conf").stdout.splitlines()[-1] == "line-300-" + "x" * 20
    assert run_pyman("rm", "ld-conf").returncode == 0
    conf.write_text("[containers]\nlog_size_max = 2000\n")
    r = run_pyman("create", *NET, "alpine", "true", env=env)
    assert r.returncode == 125
    assert "log size max should be negative or >= 8192" in r.stderr
