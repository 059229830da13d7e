"""Pure pieces of exec: the process spec, the environment, env files, runtime errors."""

from __future__ import annotations

import os

import pytest

from pyman.engine.containers.exec import last_runtime_error
from pyman.engine.specgen.env import read_env_file
from pyman.errors import PymanError
from pyman.runtime.capabilities import kernel_caps
from pyman.runtime.exec_process import exec_env, exec_process
from pyman.runtime.users import ExecUser

BASE = {
    "terminal": False, "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [10]},
    "args": ["sleep", "1000"], "env": ["PATH=/bin", "HOSTNAME=abc", "HOME=/root"], "cwd": "/srv",
    "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"],
                     "permitted": ["CAP_CHOWN"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10}], "noNewPrivileges": True,
}


def test_process_keeps_the_containers_settings() -> None:
    p = exec_process(BASE, ["id"], env=["A=1"])
    assert p["args"] == ["id"] and p["env"] == ["A=1"] and p["cwd"] == "/srv"
    assert p["user"] == BASE["user"] and p["noNewPrivileges"] is True
    assert p["rlimits"] == BASE["rlimits"]
    assert p["capabilities"]["effective"] == ["CAP_CHOWN", "CAP_KILL"]  # root: the bounding set
    assert "consoleSize" not in p and p["terminal"] is False
    assert BASE["args"] == ["sleep", "1000"]  # the base is not modified


def test_process_for_another_user_terminal_and_privileged() -> None:
    user = ExecUser(65534, 65534, [], "/nonexistent")
    p = exec_process(BASE, ["sh"], env=[], cwd="/tmp", user=user, terminal=True,
                     console_size=(24, 80))
    assert p["user"] == {"uid": 65534, "gid": 65534, "umask": 18}
    assert p["capabilities"] == {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": [],
                                 "permitted": []}
    assert p["cwd"] == "/tmp" and p["consoleSize"] == {"height": 24, "width": 80}
    priv = exec_process(BASE, ["sh"], env=[], privileged=True)
    assert priv["capabilities"]["bounding"] == kernel_caps()
    assert "CAP_SYS_ADMIN" in priv["capabilities"]["effective"]
    added = exec_process(BASE, ["sh"], env=[], user=user, user_caps=["CAP_KILL", "CAP_NET_RAW"])
    assert added["capabilities"]["ambient"] == ["CAP_KILL"]  # only those in the bounding set
    assert added["capabilities"]["effective"] == ["CAP_KILL"]
    every = exec_process(BASE, ["sh"], env=[], user=user, user_caps=["ALL"])
    assert every["capabilities"]["permitted"] == ["CAP_CHOWN", "CAP_KILL"]


def test_exec_env_order_and_hostname() -> None:
    env = exec_env(BASE["env"], ["A=1", "HOME=/x", "A=2"], hostname="abc")
    assert env == ["PATH=/bin", "HOME=/x", "A=2"]
    assert exec_env(BASE["env"], [], "abc", home="/nonexistent") == [
        "PATH=/bin", "HOME=/nonexistent"]
    assert "HOSTNAME=other" in exec_env(["HOSTNAME=other"], [], "abc")  # the user's own value


def test_env_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FROM_HOST", "h")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    f = tmp_path / "e.env"
    f.write_text("# c\n\n  A=1 2\nB==x\nFROM_HOST\nUNSET_ONE\nC=\n")
    assert read_env_file(str(f)) == ["A=1 2", "B==x", "FROM_HOST=h", "C="]
    f.write_text("BAD NAME=1\n")
    with pytest.raises(PymanError, match="white spaces"):
        read_env_file(str(f))
    with pytest.raises(PymanError, match="no such file or directory"):
        read_env_file(str(tmp_path / "missing"))


def test_runtime_errors() -> None:
    log = (b'{"level":"warning","msg":"w"}\nnot json\n'
           b'{"level":"error","msg":"exec failed: exec: \\"x\\": executable file not found"}\n')
    msg = last_runtime_error(log)
    assert msg == 'exec failed: exec: "x": executable file not found'
    assert last_runtime_error(b"") == ""


def test_top_formats() -> None:
    from pyman.engine.containers.top import (
        DEFAULT,
        go_duration,
        parse_descriptors,
        tabulate,
        tty_name,
    )

    assert go_duration(0) == "0s"
    assert go_duration(3_039_222_231) == "3.039222231s"
    assert go_duration(62_500_000_000) == "1m2.5s"
    assert go_duration(3_603_000_000_000) == "1h0m3s"
    assert go_duration(350_000_000) == "350ms" and go_duration(1_500) == "1.5µs"
    assert tty_name(0) == "?" and tty_name((136 << 8) | 3) == "pts/3"
    assert parse_descriptors([]) == list(DEFAULT)
    assert parse_descriptors(["pid,user", "%C"]) == ["pid", "user", "pcpu"]
    assert parse_descriptors(["-eo", "pid"]) is None
    assert tabulate([["PID", "COMMAND"], ["1", "sleep 1 "]]) == (
        "PID         COMMAND\n1           sleep 1 \n")


def test_cp_locations_and_names() -> None:
    from pyman.engine.copy.cp import parse_location
    from pyman.engine.copy.tar import go_base, go_dir, preserve_base, renamed

    assert parse_location("c:/etc") == ("c", "/etc")
    assert parse_location("c:") == ("c", "")  # Podman: "you must specify paths"
    assert parse_location("/a:b") == ("", "/a:b")
    assert parse_location("./x:y") == ("", "./x:y")
    assert parse_location("-") == ("", "-")
    assert go_base("/d/sub/") == "sub" and go_base("/d/.") == "." and go_base("/") == "/"
    assert go_dir("/srv/.") == "/srv" and go_dir("/tmp/x") == "/tmp" and go_dir("x") == "."
    assert preserve_base("/tmp/", "/tmp") == "/tmp/" and preserve_base("d/.", "/w/d") == "/w/d/."
    assert preserve_base("/", "/") == "/" and preserve_base("/.", "/") == "/."
    rename = {"srv": "newdir"}
    assert renamed(rename, "srv") == "newdir" and renamed(rename, "srv/a/b") == "newdir/a/b"
    assert renamed(rename, "srvx/a") == "srvx/a"


def test_extract_refuses_members_through_links(tmp_path) -> None:
    import io
    import tarfile

    from pyman.engine.copy.tar import PutOptions, extract_tar

    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("top/link")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        d = tarfile.TarInfo("top")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(d)
        tf.addfile(link)
        evil = tarfile.TarInfo("top/link/pwned")
        evil.size = 1
        tf.addfile(evil, io.BytesIO(b"x"))
    buf.seek(0)
    with pytest.raises(PymanError, match="out of the destination"):
        extract_tar(buf, str(dest), PutOptions(rename={"top": "renamed"}, side="host"))
    assert os.readlink(dest / "renamed" / "link") == str(outside)
    assert not (outside / "pwned").exists()
    dotdot = io.BytesIO()
    with tarfile.open(fileobj=dotdot, mode="w") as tf:
        m = tarfile.TarInfo("../escape")
        tf.addfile(m, io.BytesIO(b""))
    dotdot.seek(0)
    with pytest.raises(PymanError, match="out of the destination"):
        extract_tar(dotdot, str(dest))
