"""pyman build, end to end: what a build reads from outside the context and what it writes
beside the config: ADD of an http URL (a server this test starts on 127.0.0.1), the pull
policies of FROM's image against the loopback registry, and --annotation in the manifest."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BASE = "busybox"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving a temp dir (Last-Modified: the file's mtime)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", root
    finally:
        srv.shutdown()
        srv.server_close()


def _ctx(tmp_path: Path, text: str) -> Path:
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(text)
    return ctx


def test_add_remote_url(run_pyman, fresh_env, tmp_path: Path, web) -> None:
    env = fresh_env
    url, root = web
    (root / "hello.txt").write_text("from the web\n")
    when = 1_600_000_000
    os.utime(root / "hello.txt", (when, when))
    subprocess.run(["tar", "-cf", str(root / "pack.tar"), "-C", str(root), "hello.txt"],
                   check=True)
    ctx = _ctx(tmp_path, f"""FROM {BASE}
ADD {url}/hello.txt /dl/
ADD {url}/hello.txt /named.txt
ADD --chmod=0644 --chown=7:8 {url}/pack.tar /tars/
""")
    r = run_pyman("build", "-t", "web", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    # Buildah's rules: mode 0600, root's, mtime from Last-Modified; a tar stays a file
    r = run_pyman("run", "--rm", "web", "sh", "-c",
                  "stat -c '%n %a %u:%g %Y' /dl/hello.txt /named.txt /tars/pack.tar; "
                  "cat /dl/hello.txt /named.txt", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"/dl/hello.txt 600 0:0 {when}", f"/named.txt 600 0:0 {when}",
        f"/tars/pack.tar 644 7:8 {int(os.stat(root / 'pack.tar').st_mtime)}",
        "from the web", "from the web"]
    # history as Buildah writes it: what was added, summarised, and where
    r = run_pyman("history", "--no-trunc", "--format", "{{.CreatedBy}}", "web", env=env)
    assert re.fullmatch(r"/bin/sh -c #\(nop\) ADD file:[0-9a-f]{64} in /dl/ ",
                        r.stdout.splitlines()[2]), r.stdout
    # the content is the cache's key: unchanged, every step is a hit; changed, it runs again
    r = run_pyman("build", "-t", "web", str(ctx), env=env)
    assert r.returncode == 0 and r.stdout.count("--> Using cache") == 3, r.stdout
    (root / "hello.txt").write_text("changed\n")
    r = run_pyman("build", "-t", "web", str(ctx), env=env)
    assert r.returncode == 0 and r.stdout.count("--> Using cache") == 0, r.stdout
    r = run_pyman("run", "--rm", "web", "cat", "/named.txt", env=env)
    assert r.stdout == "changed\n"
    # a missing file, a server that is not there, COPY of a URL: one line naming the step
    for text, words in ((f"ADD {url}/nope /x\n", "invalid response status 404"),
                        ("ADD http://127.0.0.1:9/x /x\n", "http://127.0.0.1:9/x"),
                        (f"COPY {url}/hello.txt /x\n", "source can't be a URL for COPY")):
        r = run_pyman("build", str(_ctx(tmp_path, f"FROM {BASE}\n{text}")), env=env)
        assert r.returncode == 125, r.stdout
        last = r.stderr.strip().splitlines()[-1]
        assert "Containerfile:2" in last and words in last, last
    assert run_pyman("ps", "-aq", env=env).stdout == ""


def test_annotations_in_the_manifest(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"FROM {BASE}\nLABEL a=b\n")
    r = run_pyman("build", "-q", "--annotation", "org.example.k=v", "--annotation", "x=y=z",
                  "-t", "ann", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    base = json.loads(run_pyman("image", "inspect", BASE, env=env).stdout)[0]
    doc = json.loads(run_pyman("image", "inspect", "ann", env=env).stdout)[0]
    assert doc["ManifestType"] == "application/vnd.oci.image.manifest.v1+json"
    notes = doc["Annotations"]
    assert set(notes) == {"org.example.k", "x", "org.opencontainers.image.base.name",
                          "org.opencontainers.image.base.digest"}, notes
    assert notes["org.example.k"] == "v"
    assert notes["org.opencontainers.image.base.digest"] in [
        d.split("@")[1] for d in base["RepoDigests"]]
    assert doc["Annotations"]["x"] == "y=z"
    assert doc["Annotations"]["org.opencontainers.image.base.name"] == base["RepoTags"][0]
    # the Docker format has no annotations, as Podman shows it
    r = run_pyman("build", "-q", "--format", "docker", "--annotation", "k=v", "-t", "annd",
                  str(ctx), env=env)
    doc = json.loads(run_pyman("image", "inspect", "annd", env=env).stdout)[0]
    assert r.returncode == 0 and doc["Annotations"] == {}
    # FROM scratch: the base annotations are there, empty (Buildah's)
    r = run_pyman("build", "-q", "-t", "anns", str(_ctx(tmp_path, "FROM scratch\nLABEL a=b\n")),
                  env=env)
    doc = json.loads(run_pyman("image", "inspect", "anns", env=env).stdout)[0]
    assert r.returncode == 0 and doc["Annotations"] == {
        "org.opencontainers.image.base.digest": "", "org.opencontainers.image.base.name": ""}


def _push_marker(run_pyman, env, tmp_path: Path, dest: str, marker: str) -> None:
    ctx = _ctx(tmp_path, f"FROM {BASE}\nRUN echo {marker} > /marker\n")
    r = run_pyman("build", "-q", "-t", dest, str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("push", "-q", "--tls-verify=false", dest, env=env)
    assert r.returncode == 0, r.stderr


def test_pull_policies(run_pyman, fresh_env, tmp_path: Path, registry: str) -> None:
    env = fresh_env
    dest = f"{registry}/pyman-pullpol-{uuid.uuid4().hex[:8]}:v1"
    _push_marker(run_pyman, env, tmp_path, dest, "first")
    assert run_pyman("rmi", "-f", dest, env=env).returncode == 0
    ctx = _ctx(tmp_path, f"FROM {dest}\nRUN cat /marker\n")

    def build(policy: str) -> subprocess.CompletedProcess[str]:
        return run_pyman("build", "--no-cache", f"--pull={policy}", "--tls-verify=false",
                         str(ctx), env=env)

    r = build("never")  # not here and never pulled
    assert r.returncode == 125 and "image not known" in r.stderr, r.stderr
    r = build("missing")
    assert r.returncode == 0 and "first" in r.stdout.splitlines(), r.stderr
    # the registry's tag moves on: missing and never keep the local image, newer pulls
    _push_marker(run_pyman, env, tmp_path, dest, "second")
    run_pyman("rmi", "-f", dest, env=env)
    ctx2 = _ctx(tmp_path, f"FROM {BASE}\nRUN echo first > /marker\n")
    assert run_pyman("build", "-q", "-t", dest, str(ctx2), env=env).returncode == 0
    for policy in ("missing", "never"):
        r = build(policy)
        assert r.returncode == 0 and "first" in r.stdout.splitlines(), (policy, r.stderr)
    r = build("newer")
    assert r.returncode == 0 and "second" in r.stdout.splitlines(), r.stderr
    assert "Copying" in r.stderr or "Trying to pull" in r.stdout + r.stderr
    r = build("newer")  # up to date now: nothing pulled
    assert r.returncode == 0 and "second" in r.stdout.splitlines(), r.stderr
    assert "Trying to pull" not in r.stdout + r.stderr
    r = build("always")
    assert r.returncode == 0 and "Trying to pull" in r.stdout + r.stderr, r.stderr
    # --tls-verify reaches the pull: the loopback registry speaks plain HTTP only
    r = run_pyman("build", "--pull=always", "--tls-verify=true", str(ctx), env=env)
    assert r.returncode == 125 and "creating build container" in r.stderr, r.stderr
