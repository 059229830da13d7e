"""The store's record loader: damage of any shape is a CorruptRecord naming the file."""

from __future__ import annotations

import json

import pytest

from pyman.errors import CorruptRecord
from pyman.storage import records
from pyman.storage.containers import ContainerConfig, ContainerState
from pyman.storage.images import ImageRecord
from pyman.storage.mount_spec import MountSpec
from pyman.storage.pods import PodConfig
from pyman.storage.volumes import VolumeRecord


def test_every_record_type_has_annotations_the_checker_reads() -> None:
    for cls in (ContainerConfig, ContainerState, ImageRecord, PodConfig, VolumeRecord,
                MountSpec):
        for _, ann, _ in records._fields(cls):
            records.fits(None, ann)  # raises TypeError for an annotation with no rule


@pytest.mark.parametrize("content, why", [
    (b'{"status": "run', "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "an array, not an object"),
    (b"null", "null, not an object"),
    (b'{"status": 3}', "'status' is not str"),
    (b'{"pid": true}', "'pid' is not int"),
    (b'{"exit_code": "0"}', "'exit_code' is not int | None"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[" * 100_000, "not valid JSON"),
])
def test_damage_names_the_file(tmp_path, content: bytes, why: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(CorruptRecord) as exc:
        records.load(ContainerState, path)
    assert exc.value.path == str(path) and why in exc.value.why
    assert str(path) in str(exc.value)


def test_what_is_not_a_file_is_damaged_and_never_blocks(tmp_path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "dir.json").mkdir()
    for name in ("fifo.json", "dir.json"):
        with pytest.raises(CorruptRecord, match="not a regular file"):
            records.read_json(tmp_path / name)


def test_required_fields_and_nested_types(tmp_path) -> None:
    path = tmp_path / "pod.json"
    path.write_text("{}")
    with pytest.raises(CorruptRecord, match="no 'id'"):
        records.load(PodConfig, path)
    good = {"id": "a" * 64, "name": "p", "labels": {"k": "v"}, "future_field": [1]}
    path.write_text(json.dumps(good))
    pod = records.load(PodConfig, path)
    assert pod is not None and (pod.id, pod.name, pod.labels) == ("a" * 64, "p", {"k": "v"})
    path.write_text(json.dumps(dict(good, labels={"k": 1})))
    with pytest.raises(CorruptRecord, match="'labels'"):
        records.load(PodConfig, path)
    assert records.load(PodConfig, tmp_path / "absent.json") is None


def test_a_warning_is_one_line_once(tmp_path, capsys) -> None:
    err = CorruptRecord(tmp_path / "x.json", "empty")
    records.warn(err, "skipping")
    records.warn(CorruptRecord(tmp_path / "x.json", "empty"), "skipping")
    assert capsys.readouterr().err == f"WARNING: skipping {tmp_path / 'x.json'}: damaged (empty)\n"


def test_a_container_record_s_nested_lists_are_checked(tmp_path) -> None:
    from dataclasses import asdict

    from pyman.storage.containers import ContainerStore

    store = ContainerStore(tmp_path / "containers", tmp_path / "run")
    cid = "c" * 64
    good = ContainerConfig(id=cid, name="n", image_id="", image_name="", layers=[], args=[],
                           entrypoint=[], cmd=[], env=[], workdir="/", user="", hostname="",
                           network="none",
                           ports=[{"host_ip": "", "host_port": 8080, "container_port": 80,
                                   "protocol": "tcp"}],
                           ulimits=[["RLIMIT_NOFILE", 1, 2]],
                           mounts=[{"type": "tmpfs", "destination": "/t"}])
    store.dir(cid).mkdir(parents=True)
    path = store.dir(cid) / "config.json"
    for bad, why in ((dict(ports=[{"host_port": 8080}]), "no 'host_ip'"),
                     (dict(ulimits=[["RLIMIT_NOFILE", "1", 2]]), "'ulimits'"),
                     (dict(mounts=[{"type": "tmpfs", "destination": 5}]), "'destination'"),
                     (dict(id="d" * 64), "its id is not")):
        path.write_text(json.dumps(dict(asdict(good), **bad)))
        with pytest.raises(CorruptRecord, match=why) as exc:
            store.load(cid)
        assert exc.value.cid == cid and "rm -f cccccccccccc" in str(exc.value)
    path.write_text(json.dumps(asdict(good)))
    assert store.load(cid) == good
