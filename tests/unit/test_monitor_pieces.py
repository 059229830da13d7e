import os
from pathlib import Path

from pyman.monitor.k8slog import K8sFileLog, timestamp
from pyman.netns import files
from pyman.storage.atomic import read_json, write_json


def test_k8s_file_lines_full_and_partial(tmp_path: Path) -> None:
    log = K8sFileLog(str(tmp_path / "ctr.log"))
    log.write("stdout", b"one\ntwo\npart")
    log.write("stderr", b"err\n")
    log.close()
    lines = (tmp_path / "ctr.log").read_text().splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines] == [
        "stdout F one", "stdout F two", "stdout P part", "stderr F err"]
    assert lines[0].split(" ")[0].endswith("+00:00")


def test_timestamp_has_nanoseconds() -> None:
    assert timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789+00:00"


def test_hosts_file_names_container_and_host(tmp_path: Path) -> None:
    base = tmp_path / "hosts"
    base.write_text("10.1.1.1 web # the user's own\n127.0.0.1 localhost\n10.9.9.9\n")
    text = files.hosts_file(["abc123", "web"], [files.SLIRP_ADDR], "192.0.2.9",
                            ["db:10.3.3.3"], str(base))
    # Podman's order and rule: --add-host, the base file, then ours with only new names
    # (localhost is the base file's: no ::1 line of ours)
    assert text.splitlines() == [
        "10.3.3.3\tdb", "10.1.1.1\tweb", "127.0.0.1\tlocalhost",
        "192.0.2.9\thost.containers.internal host.docker.internal", "10.0.2.100\tabc123"]
    same = files.hosts_file(["web", "web"], ["10.0.2.100"], None, base="")
    assert same.splitlines()[-1] == "10.0.2.100\tweb web"


def test_resolv_conf_search_first_and_given_values_replace() -> None:
    text = "nameserver 10.0.2.3\nsearch a.example\noptions ndots:2\n"
    out = files.with_dns(text, {"servers": ["1.1.1.1", "8.8.8.8"], "search": ["b.example"],
                                "options": []})
    assert out == "search b.example\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2\n"


def test_resolv_conf_for_slirp_uses_its_dns() -> None:
    assert "nameserver 10.0.2.3" in files.resolv_conf("slirp4netns")


def test_atomic_json_roundtrip_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert read_json(target) == {"a": 2}
    assert os.listdir(target.parent) == ["state.json"]
    assert read_json(tmp_path / "missing.json", "dflt") == "dflt"


def test_inaccessible_tun_names_the_device_and_the_fix(tmp_path, monkeypatch) -> None:
    import pytest

    from pyman.errors import PymanError
    from pyman.netns import helpers

    if os.geteuid() == 0:
        pytest.skip("root can open any device node")
    tun = tmp_path / "tun"
    tun.touch(mode=0o600)
    os.chmod(tun, 0)
    monkeypatch.setattr(helpers, "TUN", str(tun))
    with pytest.raises(PymanError) as exc:
        helpers.check_tun()
    msg = str(exc.value)
    assert str(tun) in msg and f"chmod 0666 {tun}" in msg and "\n" not in msg
