"""images, tag, untag, history, image inspect/exists/prune, rmi: Podman's shapes and codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path


def _names(run_pyman, env) -> list[str]:
    r = run_pyman("images", "--format", "{{.Repository}}:{{.Tag}}", env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_tag_list_filter_format_untag_prune(run_pyman, fresh_env) -> None:
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    assert len(image_id) == 64
    assert run_pyman("tag", "alpine", "myimg", "example.com/team/app:v2", env=env).returncode == 0
    assert sorted(_names(run_pyman, env)) == ["docker.io/library/alpine:latest",
                                              "example.com/team/app:v2",
                                              "localhost/myimg:latest"]
    table = run_pyman("images", env=env).stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.startswith("localhost/myimg  ") and image_id[:12] in line for line in table)
    # a reference argument shows only the matching names
    only = run_pyman("images", "myimg", "--format", "{{.Repository}}", env=env).stdout.split()
    assert only == ["localhost/myimg"]
    assert run_pyman("images", "-q", "--filter", "reference=*app*", env=env).stdout.split() \
        == [image_id[:12]]
    assert run_pyman("images", "-q", "--filter", "dangling=true", env=env).stdout == ""
    docs = json.loads(run_pyman("images", "--format", "json", env=env).stdout)
    assert [d["Id"] for d in docs] == [image_id] and "Dangling" not in docs[0]
    assert set(docs[0]["Names"]) == set(_names(run_pyman, env))
    tbl = run_pyman("images", "--format", "table {{.ID}}\\t{{.Tag}}", env=env).stdout
    assert tbl.splitlines()[0] == "IMAGE ID      TAG"
    # untag one name, then all: the image stays, dangling
    assert run_pyman("untag", image_id[:12], "localhost/myimg:latest", env=env).returncode == 0
    assert "localhost/myimg:latest" not in _names(run_pyman, env)
    assert run_pyman("untag", "alpine", env=env).returncode == 0
    assert _names(run_pyman, env) == ["<none>:<none>"]
    assert run_pyman("images", "-q", "--filter", "dangling=true", env=env).stdout.split() \
        == [image_id[:12]]
    assert run_pyman("image", "exists", image_id, env=env).returncode == 0
    # prune: dangling images go, and so do their layers and blobs
    r = run_pyman("image", "prune", "-f", env=env)
    assert r.returncode == 0 and r.stdout.split() == [image_id], r.stderr
    assert run_pyman("image", "exists", image_id, env=env).returncode == 1
    store = Path(env["XDG_DATA_HOME"]) / "pyman"
    assert not [p for p in (store / "layers").iterdir() if not p.name.startswith(".")]
    assert not [p for p in (store / "blobs" / "sha256").iterdir() if not p.name.startswith(".")]


def test_inspect_history_and_errors(run_pyman, pyman_env) -> None:
    run_pyman("pull", "-q", "127.0.0.1:5000/pyman-test/config", env=pyman_env)
    r = run_pyman("image", "inspect", "127.0.0.1:5000/pyman-test/config", env=pyman_env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)[0]
    for key in ("Id", "Digest", "RepoTags", "RepoDigests", "Created", "Config", "Architecture",
                "Os", "Size", "RootFS", "ManifestType", "History", "NamesHistory"):
        assert key in doc, key
    assert doc["Config"]["WorkingDir"] == "/srv"
    out = run_pyman("image", "inspect", "--format", "{{.Os}}/{{.Config.WorkingDir}}",
                    "127.0.0.1:5000/pyman-test/config", env=pyman_env).stdout
    assert out == "linux//srv\n"
    bad = run_pyman("images", "--format", "{{.Nope}}", env=pyman_env)
    assert bad.returncode == 125 and "can't evaluate field Nope" in bad.stderr
    hist = run_pyman("history", "127.0.0.1:5000/pyman-test/config", env=pyman_env)
    assert hist.returncode == 0, hist.stderr
    lines = hist.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "CREATED", "CREATED"]
    assert lines[1].startswith(doc["Id"][:12]) and len(lines) == 1 + len(doc["History"])
    # Podman's json: the full id (or <missing>), RFC 3339 times, sizes in bytes
    rows = json.loads(run_pyman("history", "--format", "json",
                                "127.0.0.1:5000/pyman-test/config", env=pyman_env).stdout)
    assert rows[0]["id"] == doc["Id"] and all(r["id"] == "<missing>" for r in rows[1:])
    assert all(isinstance(r["size"], int) and "T" in r["created"] for r in rows)
    # CreatedAt as images shows it
    listed = run_pyman("images", "--format", "{{.CreatedAt}}",
                       "127.0.0.1:5000/pyman-test/config", env=pyman_env).stdout
    top = run_pyman("history", "--format", "{{.CreatedAt}}",
                    "127.0.0.1:5000/pyman-test/config", env=pyman_env).stdout.splitlines()[0]
    assert listed.strip() == top and top.endswith(" +0000 UTC")
    missing = run_pyman("rmi", "no-such-image-here", env=pyman_env)
    assert missing.returncode == 1 and "image not known" in missing.stderr
    assert run_pyman("image", "exists", "no-such-image-here", env=pyman_env).returncode == 1


def test_platform_flags_choose_from_the_index(run_pyman, fresh_env) -> None:
    amd = run_pyman("pull", "-q", "alpine", env=fresh_env).stdout.strip()
    arm = run_pyman("pull", "-q", "--arch", "arm64", "alpine", env=fresh_env)
    assert arm.returncode == 0, arm.stderr
    doc = json.loads(run_pyman("image", "inspect", arm.stdout.strip(), env=fresh_env).stdout)[0]
    assert doc["Architecture"] == "arm64" and arm.stdout.strip() != amd


def test_ids_and_digests_agree_with_podman(run_pyman, pyman_env, tmp_path) -> None:
    run_pyman("pull", "-q", "alpine", env=pyman_env)
    ours = json.loads(run_pyman("image", "inspect", "alpine", env=pyman_env).stdout)[0]
    runroot = tempfile.mkdtemp(prefix="pm-rr-", dir="/tmp")  # podman wants <= 50 chars
    podman = ["podman", "--root", str(tmp_path / "root"), "--runroot", runroot,
              "--storage-driver", "vfs"]
    try:
        pulled = subprocess.run([*podman, "pull", "-q", "docker.io/library/alpine:latest"],
                                env=pyman_env, capture_output=True, text=True, timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        theirs = json.loads(subprocess.run([*podman, "image", "inspect", "alpine"],
                                           env=pyman_env, capture_output=True, text=True,
                                           timeout=60).stdout)[0]
    finally:
        subprocess.run([*podman, "system", "reset", "-f"], env=pyman_env, capture_output=True,
                       timeout=120)
        shutil.rmtree(runroot, ignore_errors=True)
    assert ours["Id"] == theirs["Id"]
    assert ours["Digest"] == theirs["Digest"]
    assert sorted(ours["RepoDigests"]) == sorted(theirs["RepoDigests"])
    assert ours["RootFS"]["Layers"] == theirs["RootFS"]["Layers"]


def test_pull_output_plain_quiet_and_terminal(run_pyman, fresh_env, pyman_bin) -> None:
    import os
    import pty
    import re

    ref = "127.0.0.1:5000/pyman-test/layers:latest"
    r = run_pyman("pull", ref, env=fresh_env)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert r.stdout == image_id + "\n" and "\x1b" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[:2] == [f"Trying to pull {ref}...", "Getting image source signatures"]
    blobs = [line for line in lines if line.startswith("Copying blob sha256:")]
    assert len(blobs) >= 2 and all(len(b) == len("Copying blob sha256:") + 64 for b in blobs)
    assert lines[-3:] == [f"Copying config sha256:{image_id}",
                          "Writing manifest to image destination", "Storing signatures"]
    run_pyman("rmi", image_id, env=fresh_env)
    q = run_pyman("pull", "-q", ref, env=fresh_env)
    assert q.stdout == image_id + "\n" and q.stderr == ""
    run_pyman("rmi", image_id, env=fresh_env)
    # on a terminal: rich bars with byte counts on stderr; stdout still only the id
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(pyman_bin), "pull", ref], env=dict(fresh_env, TERM="xterm"),
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out = proc.communicate(timeout=120)[0]
    os.close(master)
    tty = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0 and out == image_id + "\n"
    assert "Copying blob" in tty and "\x1b[" in tty
    assert re.search(r"\d+(\.\d+)?/\d+(\.\d+)? (bytes|kB|MB)", tty), tty


def test_inspect_finds_containers_then_images_with_templates(run_pyman, pyman_env) -> None:
    image_id = run_pyman("pull", "-q", "alpine", env=pyman_env).stdout.strip()
    r = run_pyman("inspect", "--format", "{{.Id}} {{.Os}}", "alpine", env=pyman_env)
    assert r.returncode == 0 and r.stdout == f"{image_id} linux\n", r.stderr
    r = run_pyman("inspect", "--type", "container", "alpine", env=pyman_env)
    assert r.returncode == 125 and 'no such object: "alpine"' in r.stderr
    c = run_pyman("create", "--name", "insp-tpl", "alpine", "true", env=pyman_env)
    assert c.returncode == 0, c.stderr
    try:
        r = run_pyman("inspect", "--format", "{{.Name}} {{.State.Status}} {{.Config.Cmd}}",
                      "insp-tpl", env=pyman_env)
        assert r.stdout == "insp-tpl created [true]\n", r.stderr
    finally:
        run_pyman("rm", "-f", "insp-tpl", env=pyman_env)


def test_short_local_names_and_rmi_of_one_of_several_names(run_pyman, fresh_env) -> None:
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    assert run_pyman("tag", "alpine", "a1", "a2", env=env).returncode == 0
    # a short name finds localhost/NAME:latest, as Podman
    assert run_pyman("image", "exists", "a1", env=env).returncode == 0
    r = run_pyman("rmi", "a1", env=env)
    assert r.returncode == 0 and r.stdout == "Untagged: localhost/a1:latest\n", r.stderr
    # a short name that resolves through registries.conf untags only that name
    r = run_pyman("rmi", "alpine", env=env)
    assert r.stdout == "Untagged: docker.io/library/alpine:latest\n", r.stderr
    assert _names(run_pyman, env) == ["localhost/a2:latest"]
    r = run_pyman("rmi", "a2", env=env)
    assert r.stdout.splitlines() == ["Untagged: localhost/a2:latest", f"Deleted: {image_id}"]


def test_rmi_refuses_an_image_in_use_unless_forced(run_pyman, fresh_env) -> None:
    image_id = run_pyman("pull", "-q", "alpine", env=fresh_env).stdout.strip()
    c = run_pyman("create", "--name", "user-of-alpine", "alpine", "true", env=fresh_env)
    assert c.returncode == 0, c.stderr
    cid = c.stdout.strip()
    r = run_pyman("rmi", "alpine", env=fresh_env)
    assert (r.returncode, r.stderr) == (2, f"Error: image used by {cid}: image is in use by a "
                                        "container: consider listing external containers and "
                                        "force-removing image\n")
    assert run_pyman("image", "exists", image_id, env=fresh_env).returncode == 0
    r = run_pyman("rmi", "-f", "alpine", env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert f"Deleted: {image_id}" in r.stdout
    assert run_pyman("ps", "-aq", env=fresh_env).stdout == ""
    assert run_pyman("image", "exists", image_id, env=fresh_env).returncode == 1


def _version_field(run_pyman, env, template: str) -> str:
    r = run_pyman("version", "--format", template, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_rmi_all_and_force_with_a_pod_infra_image(run_pyman, fresh_env) -> None:
    """Podman's BATS 010-images: the infra image is localhost/podman-pause:<Version>-<Built>
    (tools find it by `version --format '{{.Server.Version}}-{{.Server.Built}}'`); rmi -a
    lists every image in use, exit 2; -f takes the pod along with its infra container."""
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    made = run_pyman("create", "--pod", "new:rmipod", "alpine", "true", env=env)
    assert made.returncode == 0, made.stderr
    pause = "localhost/podman-pause:" + _version_field(
        run_pyman, env, "{{.Server.Version}}-{{.Server.Built}}")
    assert pause == "localhost/podman-pause:" + _version_field(
        run_pyman, env, "{{.Client.Version}}-{{.Client.Built}}")
    pause_id = run_pyman("inspect", "--format", "{{.ID}}", pause, env=env).stdout.strip()
    assert len(pause_id) == 64
    r = run_pyman("rmi", "-a", env=env)
    assert r.returncode == 2 and r.stdout == ""
    err = r.stderr.splitlines()
    assert err[0] == "Error: 2 errors occurred:" and len(err) == 3, r.stderr
    assert all(line.startswith("\t* image used by ") and line.endswith(
        ": image is in use by a container: consider listing external containers and "
        "force-removing image") for line in err[1:])
    r = run_pyman("rmi", "-af", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Untagged: docker.io/library/alpine:latest",
                                     f"Untagged: {pause}", f"Deleted: {image_id}",
                                     f"Deleted: {pause_id}"]
    for listing in (("images", "--noheading"), ("ps", "-a", "--noheading"),
                    ("pod", "ps", "--noheading")):
        assert run_pyman(*listing, env=env).stdout == ""
    # the infra image alone, by name: in use, then forced (pod, members and all)
    run_pyman("pull", "-q", "alpine", env=env)
    made = run_pyman("create", "--pod", "new:rmipod2", "alpine", "true", env=env)
    assert made.returncode == 0, made.stderr
    pause_id = run_pyman("inspect", "--format", "{{.ID}}", pause, env=env).stdout.strip()
    r = run_pyman("rmi", pause, env=env)
    assert r.returncode == 2 and r.stderr.startswith("Error: image used by "), r.stderr
    r = run_pyman("rmi", "-f", pause, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"Untagged: {pause}", f"Deleted: {pause_id}"]
    assert run_pyman("ps", "-a", "--noheading", env=env).stdout == ""
    assert run_pyman("pod", "ps", "--noheading", env=env).stdout == ""
    assert run_pyman("image", "exists", "alpine", env=env).returncode == 0
    # two missing names: one error listing both, exit 1
    r = run_pyman("rmi", "nosuch1", "nosuch2", env=env)
    assert r.returncode == 1
    assert r.stderr == ("Error: 2 errors occurred:\n\t* nosuch1: image not known\n"
                        "\t* nosuch2: image not known\n")


def test_version_shapes(run_pyman, fresh_env) -> None:
    r = run_pyman("version", env=fresh_env)
    rows = dict(line.split(":", 1) for line in r.stdout.splitlines())
    assert list(rows) == ["Client", "Version", "Python Version", "Built", "OS/Arch"]
    built = int(_version_field(run_pyman, fresh_env, "{{.Client.Built}}"))
    assert built > 1546300800  # 2019: a real time, not Podman's reproducible 0
    doc = json.loads(run_pyman("version", "--format", "json", env=fresh_env).stdout)
    assert doc["Client"]["Built"] == built and doc["Client"]["Os"] == "linux"
    # Podman: a template that fails on the whole document is run on the client part
    assert _version_field(run_pyman, fresh_env, "{{.Version}}") == doc["Client"]["Version"]


def test_rmi_by_digest_untags_while_tags_keep_the_image(run_pyman, fresh_env) -> None:
    """Podman's BATS 010 "images -a, after pulling by sha": the repo@digest reference goes
    alone; the image, still tagged, stays (and still answers to its digest)."""
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    digest = run_pyman("inspect", "--format", "{{.Digest}}", image_id, env=env).stdout.strip()
    before = run_pyman("images", "-a", env=env).stdout
    by_digest = f"docker.io/library/alpine@{digest}"
    assert run_pyman("pull", "-q", by_digest, env=env).stdout.strip() == image_id
    assert run_pyman("images", "-a", env=env).stdout == before
    r = run_pyman("rmi", by_digest, env=env)
    assert (r.returncode, r.stdout) == (0, f"Untagged: {by_digest}\n"), r.stderr
    assert run_pyman("images", "-a", env=env).stdout == before
    # a short name with the digest: the same, fully qualified in the report
    r = run_pyman("rmi", f"alpine@{digest}", env=env)
    assert r.stdout == f"Untagged: {by_digest}\n", r.stderr
    # untagged, the digest reference removes the image itself
    assert run_pyman("untag", "alpine", env=env).returncode == 0
    r = run_pyman("rmi", by_digest, env=env)
    assert r.stdout.splitlines() == [f"Untagged: {by_digest}", f"Deleted: {image_id}"], r.stderr
    assert run_pyman("image", "exists", image_id, env=env).returncode == 1
