"""pyman build, end to end as the unprivileged user: real build containers, the layer cache
(hits and misses proved by what ran, not by timing), multi-stage, ignore files, --chown seen
inside the container, bad input named by its line, and the result used by run, push, save and
podman."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

BASE = "busybox"


def _ctx(tmp_path: Path, containerfile: str, files: dict[str, str] | None = None) -> Path:
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(containerfile)
    for name, text in (files or {}).items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(text)
    return ctx


def _no_build_containers(run_pyman, env) -> None:
    r = run_pyman("ps", "-a", "--external", "-q", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout


def test_build_run_cache_and_one_file_change(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
ENV GREETING=hi
RUN echo ran-first-$GREETING && echo one > /one
COPY a.txt /data/a.txt
RUN echo ran-second && cat /data/a.txt > /two
COPY b.txt /data/
CMD ["cat", "/two"]
""", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    r = run_pyman("build", "-t", "app:1", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()  # a RUN's own output is a line of its own
    assert "ran-first-hi" in lines and "ran-second" in lines
    assert lines[0] == f"STEP 1/7: FROM {BASE}" and "COMMIT app:1" in lines
    assert lines[-2] == "Successfully tagged localhost/app:1"
    first_id = lines[-1]
    assert len(first_id) == 64
    _no_build_containers(run_pyman, env)
    r = run_pyman("run", "--rm", "app:1", env=env)
    assert (r.returncode, r.stdout) == (0, "alpha\n"), r.stderr
    # nothing changed: every step from the cache, no RUN executed, the same image
    r = run_pyman("build", "-t", "app:1", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "ran-first-hi" not in r.stdout.splitlines()
    assert "ran-second" not in r.stdout.splitlines()
    assert r.stdout.count("--> Using cache") == 6
    assert r.stdout.splitlines()[-1] == first_id
    # one file changed: the steps before its COPY come from the cache, the rest run again
    (ctx / "a.txt").write_text("changed\n")
    r = run_pyman("build", "-t", "app:1", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "ran-first-hi" not in r.stdout.splitlines()
    assert "ran-second" in r.stdout.splitlines()
    assert r.stdout.count("--> Using cache") == 2
    assert r.stdout.splitlines()[-1] != first_id
    r = run_pyman("run", "--rm", "app:1", env=env)
    assert (r.returncode, r.stdout) == (0, "changed\n"), r.stderr
    # --no-cache runs everything again
    r = run_pyman("build", "--no-cache", "-t", "app:1", str(ctx), env=env)
    assert r.returncode == 0 and "ran-first-hi" in r.stdout.splitlines()
    assert "Using cache" not in r.stdout
    # -q: the image id alone, as Podman (no step lines, no RUN output)
    r = run_pyman("build", "--no-cache", "-q", "-t", "app:1", str(ctx), env=env)
    assert r.returncode == 0 and len(r.stdout.split()) == 1 and len(r.stdout.strip()) == 64
    # history and config as Docker/OCI tools read them
    doc = json.loads(run_pyman("image", "inspect", "app:1", env=env).stdout)[0]
    assert doc["Config"]["Cmd"] == ["cat", "/two"] and "GREETING=hi" in doc["Config"]["Env"]
    hist = [h["created_by"] for h in doc["History"]]
    assert hist[-1] == '/bin/sh -c #(nop) CMD ["cat", "/two"]'
    assert "/bin/sh -c echo ran-first-$GREETING && echo one > /one" in hist
    _no_build_containers(run_pyman, env)


def test_ignore_file_and_chown_inside(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
COPY --chown=123:456 . /app/
RUN find /app -type f | sort
""", {"keep.txt": "k", "skip.log": "s", "sub/keep2": "k2", "sub/x.log": "x",
      "sub/important.log": "i", ".dockerignore": "*.log\n**/*.log\n!sub/important.log\n"})
    (ctx / ".containerignore").write_text("**/*.log\n!sub/important.log\n.containerignore\n")
    r = run_pyman("build", "-t", "ign", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "/app/keep.txt" in r.stdout and "/app/sub/important.log" in r.stdout
    assert "skip.log" not in r.stdout and "x.log" not in r.stdout
    assert ".containerignore" not in r.stdout and "/app/.dockerignore" in r.stdout
    r = run_pyman("run", "--rm", "ign", "stat", "-c", "%u:%g", "/app/keep.txt", "/app/sub",
                  env=env)
    assert r.stdout.split() == ["123:456", "123:456"], r.stderr
    # --ignorefile wins over the context's own
    (tmp_path / "myignore").write_text("keep.txt\n")
    r = run_pyman("build", "--ignorefile", str(tmp_path / "myignore"), "-t", "ign2", str(ctx),
                  env=env)
    assert r.returncode == 0 and "/app/keep.txt" not in r.stdout and "x.log" in r.stdout


def test_multistage_target_and_unused_stage(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""ARG BASE={BASE}
FROM $BASE AS builder
ARG MSG=default
RUN echo "built $MSG" > /artifact && echo ran-builder
FROM $BASE AS broken
RUN echo ran-broken && exit 9
FROM scratch
COPY --from=builder /artifact /artifact
COPY --from=builder /bin/busybox /bin/cat
ENTRYPOINT ["/bin/cat"]
CMD ["/artifact"]
""")
    r = run_pyman("build", "--build-arg", "MSG=custom", "-t", "ms", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "ran-builder" in r.stdout.splitlines() and "ran-broken" not in r.stdout
    r = run_pyman("run", "--rm", "ms", env=env)
    assert (r.returncode, r.stdout) == (0, "built custom\n"), r.stderr
    r = run_pyman("build", "--target", "broken", str(ctx), env=env)
    assert r.returncode == 9 and "ran-broken" in r.stdout.splitlines()
    assert 'building at STEP "RUN echo ran-broken && exit 9"' in r.stderr
    assert "Containerfile:6" in r.stderr and "exit status 9" in r.stderr
    _no_build_containers(run_pyman, env)


@pytest.mark.parametrize("text,line,words", [
    (f"FROM {BASE}\nBOGUS x\n", 2, "unknown instruction: BOGUS"),
    (f"FROM {BASE}\nCOPY missing.txt /x\n", 2, "no such file or directory"),
    (f"FROM {BASE}\nCOPY ../outside /x\n", 2, "outside the build context"),
    (f"FROM {BASE}\nCOPY --from=later /x /x\nFROM {BASE} AS later\n", 2, "cycle"),
    ("FROM $NOPE\n", 1, "NOPE"),
])
def test_bad_input_names_the_line(run_pyman, fresh_env, tmp_path: Path, text: str, line: int,
                                  words: str) -> None:
    ctx = _ctx(tmp_path, text)
    r = run_pyman("build", str(ctx), env=fresh_env)
    assert r.returncode == 125, r.stdout
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("Error: ") and f"Containerfile:{line}" in err and words in err, err
    _no_build_containers(run_pyman, fresh_env)


def test_add_tar_heredocs_stdin_and_iidfile(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
ADD pack.tar.gz /unpacked/
COPY <<EOF /etc/motd
hello from a heredoc
EOF
RUN <<EOF
set -e
cat /unpacked/inner/file.txt > /result
EOF
""")
    src = tmp_path / "src" / "inner"
    src.mkdir(parents=True)
    (src / "file.txt").write_text("inside the tar\n")
    subprocess.run(["tar", "-czf", str(ctx / "pack.tar.gz"), "-C", str(tmp_path / "src"),
                    "inner"], check=True)
    iid = tmp_path / "iid"
    r = run_pyman("build", "--iidfile", str(iid), "-t", "addt", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert iid.read_text() == "sha256:" + r.stdout.splitlines()[-1]
    r = run_pyman("run", "--rm", "addt", "cat", "/result", "/etc/motd", env=env)
    assert r.stdout == "inside the tar\nhello from a heredoc\n", r.stderr
    # a Containerfile on stdin, no context
    r = run_pyman("build", "-q", "-t", "stdin1", "-", input=f"FROM {BASE}\nLABEL a=b\n",
                  env=env)
    assert r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr
    doc = json.loads(run_pyman("image", "inspect", "stdin1", env=env).stdout)[0]
    assert doc["Config"]["Labels"]["a"] == "b"


def test_push_and_podman_runs_saved_build(run_pyman, fresh_env, tmp_path: Path,
                                          registry: str) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"FROM {BASE}\nRUN echo built-by-pyman > /msg\nCMD cat /msg\n")
    r = run_pyman("build", "-t", "forpodman", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    dest = f"{registry}/pyman-build-{uuid.uuid4().hex[:8]}:v1"
    r = run_pyman("push", "--tls-verify=false", "forpodman", dest, env=env)
    assert r.returncode == 0, r.stderr
    assert run_pyman("rmi", "-f", "forpodman", env=env).returncode == 0
    r = run_pyman("pull", "-q", "--tls-verify=false", dest, env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("run", "--rm", dest, env=env)
    assert r.stdout == "built-by-pyman\n", r.stderr
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    archive = tmp_path / "img.tar"
    r = run_pyman("save", "-o", str(archive), dest, env=env)
    assert r.returncode == 0, r.stderr
    root = tmp_path / "podman"
    runroot = tempfile.mkdtemp(prefix="pm-b-")
    base = ["podman", "--root", str(root), "--runroot", runroot, "--storage-driver", "vfs"]
    try:
        r = subprocess.run([*base, "load", "-i", str(archive)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([*base, "run", "--rm", "--network", "none", dest],
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert (r.returncode, r.stdout) == (0, "built-by-pyman\n"), r.stderr
        theirs = subprocess.run([*base, "history", "--no-trunc", "--format",
                                 "{{.CreatedBy}}", dest], capture_output=True, text=True,
                                timeout=60, stdin=subprocess.DEVNULL)
        ours = run_pyman("history", "--no-trunc", "--format", "{{.CreatedBy}}", dest, env=env)
        assert theirs.stdout.splitlines()[:2] == [
            "/bin/sh -c #(nop) CMD cat /msg", "/bin/sh -c echo built-by-pyman > /msg"]
        assert ours.stdout == theirs.stdout, (ours.stdout, theirs.stdout)
    finally:
        subprocess.run([*base, "system", "reset", "-f"], capture_output=True, timeout=120)
        subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", "--",
                        str(root), runroot], capture_output=True, timeout=60)
        if os.path.exists(runroot):
            shutil.rmtree(runroot, ignore_errors=True)


def test_runtime_problems_and_volumes_from_a_built_volume(run_pyman, fresh_env,
                                                          tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"FROM {BASE}\nRUN echo hi > /vol-seed\nVOLUME /vol\n")
    # a runtime that does not exist is refused before any step runs
    r = run_pyman("--runtime=idonotexist", "build", str(ctx), env=env)
    assert r.returncode == 125 and '"idonotexist" not found' in r.stderr
    assert "STEP 2/3" not in r.stdout
    # the runtime refusing a flag fails the RUN with exit status 1, as Buildah's
    r = run_pyman("--runtime-flag", "invalidflag", "build", str(ctx), env=env)
    assert r.returncode == 1 and "invalidflag" in r.stderr, r.stderr
    _no_build_containers(run_pyman, env)
    r = run_pyman("build", "-q", "-t", "withvol", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("run", "-d", "--name", "holder", "withvol", "sleep", "60", env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("exec", "holder", "sh", "-c", "echo shared > /vol/f", env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("run", "--rm", "--volumes-from", "holder", BASE, "cat", "/vol/f", env=env)
    assert (r.returncode, r.stdout) == (0, "shared\n"), r.stderr
    r = run_pyman("run", "--rm", "--volumes-from", "holder:ro", BASE, "sh", "-c",
                  "echo x > /vol/g", env=env)
    assert r.returncode != 0 and "Read-only" in r.stderr
    r = run_pyman("run", "--rm", "--volumes-from", "nosuch", BASE, "true", env=env)
    assert r.returncode == 125 and "nosuch" in r.stderr
    r = run_pyman("version", "--format", "{{.Server.Version}}-{{.Server.Built}}", env=env)
    assert r.returncode == 0 and re.fullmatch(r"0\.1\.0-\d+", r.stdout.strip()), r.stdout


def test_config_instructions_onbuild_and_parser(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""# syntax=docker/dockerfile:1
# escape=`
FROM {BASE} AS parent
ARG TARGETARCH
SHELL ["/bin/sh", "-e", "-c"]
RUN echo "arch=$TARGETARCH" && echo one `
    two > /cont
WORKDIR /srv
WORKDIR sub
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME /data
LABEL version="1.0" name=app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["true"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /cont"]
ONBUILD RUN echo ran-onbuild > /tmp/onbuild
""")
    r = run_pyman("build", "--label", "extra=yes", "--format", "docker", "-t", "parent",
                  str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "arch=amd64" in r.stdout.splitlines() or "arch=arm64" in r.stdout.splitlines()
    cfg = json.loads(run_pyman("image", "inspect", "parent", env=env).stdout)[0]
    c = cfg["Config"]
    assert c["WorkingDir"] == "/srv/sub" and c["User"] == "1000:1000"
    assert set(c["ExposedPorts"]) == {"8080/tcp", "53/udp"} and "/data" in c["Volumes"]
    assert c["Labels"] == {"version": "1.0", "name": "app", "extra": "yes"}
    assert c["StopSignal"] == "SIGTERM" and c["Entrypoint"] == ["/bin/sh", "-c"]
    assert c["Cmd"] == ["cat /cont"] and c["OnBuild"] == ["RUN echo ran-onbuild > /tmp/onbuild"]
    assert cfg["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    r = run_pyman("run", "--rm", "parent", env=env)
    assert (r.returncode, r.stdout) == (0, "one two\n"), r.stderr
    # ONBUILD triggers run in a child build
    child = _ctx(tmp_path, "FROM parent\nUSER 0\nRUN cat /tmp/onbuild\n")
    r = run_pyman("build", "-t", "child", str(child), env=env)
    assert r.returncode == 0 and "ran-onbuild" in r.stdout.splitlines(), r.stderr
    # other platforms are refused clearly, before anything is pulled
    r = run_pyman("build", "--platform", "linux/s390x", str(child), env=env)
    assert r.returncode == 125 and "linux/s390x" in r.stderr and "host" in r.stderr


def test_run_mounts_network_and_squash(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
RUN --mount=type=cache,target=/cache echo x >> /cache/count && wc -l < /cache/count
RUN --mount=type=bind,source=src,target=/src cat /src/in.txt > /copied
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ! test -e /x
RUN --network=none sh -c 'ip -o link | grep -v " lo:" | wc -l' > /links
RUN rm /copied && echo gone
""", {"src/in.txt": "from a bind\n"})
    r = run_pyman("build", "-t", "mnt", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "1" in r.stdout.splitlines()
    r = run_pyman("run", "--rm", "mnt", "sh", "-c", "cat /links; ls /copied /cache 2>&1 || :",
                  env=env)
    assert r.stdout.splitlines()[0] == "0", r.stdout
    assert "No such file" in r.stdout
    # the cache mount persists between builds (--no-cache runs the step again)
    r = run_pyman("build", "--no-cache", "-t", "mnt", str(ctx), env=env)
    assert r.returncode == 0 and "2" in r.stdout.splitlines(), r.stdout
    base = json.loads(run_pyman("image", "inspect", BASE, env=env).stdout)[0]
    n_base = len(base["RootFS"]["Layers"])
    r = run_pyman("build", "--squash", "-q", "-t", "sq", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(run_pyman("image", "inspect", "sq", env=env).stdout)[0]
    assert len(doc["RootFS"]["Layers"]) == n_base + 1
    assert doc["RootFS"]["Layers"][:n_base] == base["RootFS"]["Layers"]
    r = run_pyman("build", "--squash-all", "-q", "-t", "sqa", str(ctx), env=env)
    doc = json.loads(run_pyman("image", "inspect", "sqa", env=env).stdout)[0]
    assert len(doc["RootFS"]["Layers"]) == 1
    for image in ("sq", "sqa"):  # the whiteout of /copied survived the squash
        r = run_pyman("run", "--rm", image, "sh", "-c", "test ! -e /copied && cat /links",
                      env=env)
        assert (r.returncode, r.stdout) == (0, "0\n"), r.stderr
    hist = run_pyman("history", "--format", "{{.CreatedBy}}", "sqa", env=env)
    assert hist.returncode == 0 and "rm /copied" in hist.stdout


def test_killed_build_leaves_nothing_and_next_reuses(run_pyman, fresh_env, pyman_bin,
                                                     tmp_path: Path) -> None:
    import signal
    import time

    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
RUN echo step-one > /one
COPY a.txt /a.txt
RUN echo started-slow && sleep 300
""", {"a.txt": "a\n"})
    proc = subprocess.Popen([str(pyman_bin), "build", "-t", "killed", str(ctx)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.strip() == "started-slow" or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the slow step's container is still there (its monitor outlived the build): the next
    # build removes it, and takes the completed steps from the cache
    (ctx / "Containerfile").write_text(f"""FROM {BASE}
RUN echo step-one > /one
COPY a.txt /a.txt
RUN echo quick
""")
    r = run_pyman("build", "-t", "killed", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("--> Using cache") == 2 and "quick" in r.stdout.splitlines()
    _no_build_containers(run_pyman, env)
    r = run_pyman("run", "--rm", "killed", "cat", "/one", "/a.txt", env=env)
    assert r.stdout == "step-one\na\n", r.stderr


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_signalled_build_stops_its_step_at_once(run_pyman, fresh_env, pyman_bin,
                                                 tmp_path: Path, signame: str) -> None:
    """`timeout pyman build` and Ctrl-C: the build stops at once (not after the step: a
    container's init ignores SIGTERM, so proxying it would hang), kills and removes the
    step's container, and exits 128 + the signal; the finished steps stay cached."""
    import signal
    import time

    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
RUN echo step-one > /one
RUN echo started-slow && sleep 300
""")
    proc = subprocess.Popen([str(pyman_bin), "build", "-t", "stopped", str(ctx)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.strip() == "started-slow" or time.monotonic() > deadline:
            break
    sent = time.monotonic()
    proc.send_signal(getattr(signal, signame))
    assert proc.wait(timeout=30) == 128 + getattr(signal, signame)
    assert time.monotonic() - sent < 10
    assert proc.stderr.read().endswith(f"\nError: build interrupted by {signame}\n")
    _no_build_containers(run_pyman, env)
    mine = subprocess.run(["pgrep", "-u", str(os.getuid()), "-f", "sleep 300"],
                          capture_output=True, text=True)
    assert mine.stdout == ""  # the step's process was killed, not left to run
    assert "stopped" not in run_pyman("images", env=env).stdout
    (ctx / "Containerfile").write_text(f"FROM {BASE}\nRUN echo step-one > /one\n")
    r = run_pyman("build", "-t", "stopped", str(ctx), env=env)
    assert r.returncode == 0 and r.stdout.count("--> Using cache") == 1, r.stderr


def test_signalled_parallel_build_stops_every_stage(run_pyman, fresh_env, pyman_bin,
                                                    tmp_path: Path) -> None:
    """--jobs: SIGTERM reaches the main thread only; it kills the RUN containers of every
    stage running then (their threads end) rather than waiting for their steps."""
    import signal
    import time

    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE} AS a
RUN echo started-a && sleep 300
FROM {BASE} AS b
RUN echo started-b && sleep 300
FROM {BASE}
COPY --from=a /etc/hostname /a
COPY --from=b /etc/hostname /b
""")
    proc = subprocess.Popen([str(pyman_bin), "build", "--jobs", "2", "-t", "par", str(ctx)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.strip() in ("started-a", "started-b"):
            seen.add(line.strip())
        if len(seen) == 2 or time.monotonic() > deadline:
            break
    assert len(seen) == 2
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert time.monotonic() - sent < 15
    assert proc.stderr.read().endswith("Error: build interrupted by SIGTERM\n")
    _no_build_containers(run_pyman, env)
    mine = subprocess.run(["pgrep", "-u", str(os.getuid()), "-f", "sleep 300"],
                          capture_output=True, text=True)
    assert mine.stdout == ""


def test_build_containers_are_external(run_pyman, fresh_env, pyman_bin,
                                       tmp_path: Path) -> None:
    """A build's containers are what Podman calls external: `ps -a`, `rm -a`, `container
    prune` and `container exists` leave them out, `--external` shows them; so a clean-up
    run meanwhile does not break the build."""
    import time

    env = fresh_env
    assert run_pyman("create", "--name", "plain", BASE, "true", env=env).returncode == 0
    flag = tmp_path / "go"
    flag.mkdir()
    ctx = _ctx(tmp_path, f"""FROM {BASE}
RUN echo waiting && while [ ! -e /go/now ]; do sleep 0.1; done && echo built > /out
""")
    proc = subprocess.Popen([str(pyman_bin), "build", "-v", f"{flag}:/go", "-t", "ext",
                             str(ctx)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            if line.strip() == "waiting" or time.monotonic() > deadline:
                break
        plain = run_pyman("ps", "-a", "-q", "--no-trunc", env=env).stdout.split()
        assert len(plain) == 1  # only `plain`
        ext = run_pyman("ps", "--external", "--format", "{{.ID}} {{.Status}}",
                        "--no-trunc", env=env).stdout.splitlines()
        # --external alone: the build's (running) container, not the created `plain`
        assert len(ext) == 1 and ext[0].split()[1] == "Up", ext
        build_id = ext[0].split()[0]
        both = run_pyman("ps", "-a", "--external", "-q", "--no-trunc", env=env).stdout
        assert set(both.split()) == {plain[0], build_id}
        assert run_pyman("container", "exists", build_id, env=env).returncode == 1
        assert run_pyman("container", "exists", "--external", build_id,
                         env=env).returncode == 0
        r = run_pyman("rm", "-a", "-f", env=env)
        assert r.returncode == 0 and r.stdout.split() == [plain[0]], r.stdout
        assert run_pyman("container", "prune", "-f", env=env).returncode == 0
        (flag / "now").write_text("")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    r = run_pyman("run", "--rm", "ext", "cat", "/out", env=env)
    assert r.stdout == "built\n", r.stderr
    _no_build_containers(run_pyman, env)


def test_context_tarball_on_stdin(run_pyman, fresh_env, pyman_bin, tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, f"FROM {BASE}\nCOPY data.txt /data.txt\n", {"data.txt": "tarred\n"})
    tarball = tmp_path / "ctx.tar.gz"
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(ctx), "."], check=True)
    with open(tarball, "rb") as f:
        r = subprocess.run([str(pyman_bin), "build", "-q", "-t", "fromtar", "-"], stdin=f,
                           env=fresh_env,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = run_pyman("run", "--rm", "fromtar", "cat", "/data.txt", env=fresh_env)
    assert r.stdout == "tarred\n", r.stderr
