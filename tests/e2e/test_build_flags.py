"""pyman build's flags and pyman commit's, end to end as the unprivileged user: each checked by
what it changes in the image or in the RUN containers; independent stages built at once
(--jobs, proved by a rendezvous, not by timing); a build killed at any moment."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

BASE = "busybox"


def _ctx(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(text)
    for name, body in (files or {}).items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(body)
    return ctx


def _inspect(run_pyman, env, image: str) -> dict:
    r = run_pyman("image", "inspect", image, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def test_run_flags_args_env_and_volume(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from the host\n")
    ctx = _ctx(tmp_path, f"""FROM {BASE}
ARG A
ARG B=default
RUN echo "A=$A B=$B E1=$E1"; cat /vol/in.txt; ip -o link | grep -vc ': lo:' || true
""")
    argfile = tmp_path / "args"
    argfile.write_text("# a comment\nA=from-file\nB=also-from-file\n")
    r = run_pyman("build", "--build-arg-file", str(argfile), "--build-arg", "B=flag",
                  "--network", "none", "-v", f"{shared}:/vol", "--env", "E1=x",
                  "--rm=false", "--force-rm", "-t", "flags", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "A=from-file B=flag E1=x" in lines and "from the host" in lines
    assert "0" in lines  # --network none: no interface but lo
    doc = _inspect(run_pyman, env, "flags")
    assert "E1=x" in doc["Config"]["Env"]
    # the volume was RUN's only: nothing of it in the image
    r = run_pyman("run", "--rm", "flags", "ls", "/vol", env=env)
    assert r.stdout == "", r.stdout
    assert run_pyman("ps", "-aq", env=env).stdout == ""
    r = run_pyman("build", "--jobs", "-1", str(ctx), env=env)
    assert r.returncode == 125 and "--jobs" in r.stderr


def test_deletions_and_opaque_dirs_across_layers(run_pyman, fresh_env, tmp_path: Path
                                                 ) -> None:
    """A RUN's removals become whiteouts and a recreated dir hides what was below it, in the
    next step, in a later stage and in the image; the cache serves the same layers."""
    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE} AS base
RUN mkdir -p /d/sub && echo a > /d/sub/f && echo x > /gone && echo keep > /etc/kept
RUN rm /gone /bin/vi && rm -rf /d && mkdir /d && echo b > /d/new && echo more >> /etc/kept
RUN test ! -e /gone && test ! -e /d/sub && cat /d/new /etc/kept
FROM base
RUN ls -A /d && test ! -e /bin/vi
""")
    r = run_pyman("build", "-t", "wh", str(ctx), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "b" in r.stdout.splitlines() and "more" in r.stdout.splitlines()
    r = run_pyman("run", "--rm", "wh", "sh", "-c",
                  "ls -A /d; test ! -e /gone && test ! -e /bin/vi && cat /etc/kept", env=env)
    assert (r.returncode, r.stdout) == (0, "new\nkeep\nmore\n"), r.stderr
    r = run_pyman("build", "-t", "wh", str(ctx), env=env)
    assert r.returncode == 0 and r.stdout.count("--> Using cache") == 4, r.stdout


def test_independent_stages_build_at_once(run_pyman, fresh_env, tmp_path: Path) -> None:
    """Each stage waits for the other's mark in a shared bind mount: with --jobs 2 both
    finish; one at a time, the first would give up."""
    env = fresh_env
    shared = tmp_path / "meet"
    shared.mkdir()

    def meet(me: str, other: str) -> str:
        return (f"RUN touch /meet/{me} && for i in $(seq 300); do "
                f"test -e /meet/{other} && echo met-{me} > /{me} && exit 0; sleep 0.1; done; "
                "exit 7")

    ctx = _ctx(tmp_path, f"""FROM {BASE} AS left
{meet('left', 'right')}
FROM {BASE} AS right
{meet('right', 'left')}
FROM {BASE} AS unused
RUN exit 9
FROM {BASE}
COPY --from=left /left /left
COPY --from=right /right /right
CMD ["cat", "/left", "/right"]
""")
    r = run_pyman("build", "--jobs", "2", "-v", f"{shared}:/meet", "-t", "par", str(ctx),
                  env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_pyman("run", "--rm", "par", env=env)
    assert r.stdout == "met-left\nmet-right\n", r.stderr
    # a failing stage among parallel ones fails the build with its code, nothing left
    (shared / "left").unlink()
    (shared / "right").unlink()
    bad = _ctx(tmp_path, f"""FROM {BASE} AS a
RUN exit 3
FROM {BASE} AS b
RUN echo fine > /b
FROM {BASE}
COPY --from=a /etc/hostname /a
COPY --from=b /b /b
""")
    r = run_pyman("build", "--jobs", "0", str(bad), env=env)
    assert r.returncode == 3 and "exit status 3" in r.stderr, r.stderr
    assert run_pyman("ps", "-aq", env=env).stdout == ""


def test_killed_at_any_moment(run_pyman, fresh_env, pyman_bin, tmp_path: Path) -> None:
    env = fresh_env
    ctx = _ctx(tmp_path, f"""FROM {BASE}
RUN echo one > /one
COPY a.txt /a.txt
RUN echo two > /two
COPY b.txt /b.txt
RUN cat /one /two /a.txt /b.txt > /all
""", {"a.txt": "a\n", "b.txt": "b\n"})
    for delay in (0.2, 0.6, 1.0, 1.5, 2.2, 3.0):
        proc = subprocess.Popen([str(pyman_bin), "build", "--no-cache", "-t", "k", str(ctx)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    r = run_pyman("build", "-t", "k", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("run", "--rm", "k", "cat", "/all", env=env)
    assert (r.returncode, r.stdout) == (0, "one\ntwo\na\nb\n"), r.stderr
    assert run_pyman("ps", "-aq", env=env).stdout == ""  # the killed builds' are gone
    # every store listing still reads cleanly
    r = run_pyman("images", "-a", env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # a second build with nothing changed: all from the cache
    r = run_pyman("build", "-t", "k", str(ctx), env=env)
    assert r.returncode == 0 and r.stdout.count("--> Using cache") == 5, r.stdout
    # the killed builds' temporary files go with the next build that commits layers
    assert run_pyman("build", "--no-cache", "-q", str(ctx), env=env).returncode == 0
    data = Path(env["XDG_DATA_HOME"]) / "pyman"
    assert list((data / "blobs" / "sha256").glob(".commit-*")) == []
    assert list((data / "layers").glob(".tmp-*")) == []


def test_commit_flags(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    r = run_pyman("run", "-d", "--name", "cm", BASE, "sh", "-c",
                  "echo changed > /changed; sleep 300", env=env)
    assert r.returncode == 0, r.stderr
    cid = run_pyman("inspect", "--format", "{{.Id}}", "cm", env=env).stdout.strip()
    # a message needs Docker's format, as Podman's
    r = run_pyman("commit", "-m", "a message", "cm", "nope", env=env)
    assert r.returncode == 125, r.stderr
    assert "messages are only compatible with the docker image format (-f docker)" in r.stderr
    iid = tmp_path / "iid"
    args = ["-f", "docker", "-a", "Some One <one@example.org>", "-m", "a message",
            "-c", "ENV K=v", "-c", "CMD [\"cat\", \"/changed\"]", "-c", "USER 0",
            "--iidfile", str(iid), "cm", "committed:1"]
    r = run_pyman("commit", "--pause", *args, env=env)
    if r.returncode != 0:  # a host where containers cannot be paused (cgroup v1): Podman's
        assert r.returncode == 125 and f'pausing container "{cid}" to commit: ' in r.stderr
        r = run_pyman("commit", *args, env=env)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip().splitlines()[-1]
    assert iid.read_text() == f"sha256:{image_id}"
    assert "Writing manifest to image destination" in r.stderr
    r = run_pyman("inspect", "--format", "{{.State.Status}}", "cm", env=env)
    assert r.stdout.strip() == "running", r.stdout
    doc = _inspect(run_pyman, env, "committed:1")
    assert doc["Author"] == "Some One <one@example.org>" and doc["Comment"] == "a message"
    assert doc["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert "K=v" in doc["Config"]["Env"] and doc["Config"]["Cmd"] == ["cat", "/changed"]
    r = run_pyman("run", "--rm", "committed:1", env=env)
    assert r.stdout == "changed\n", r.stderr
    r = run_pyman("commit", "-q", "cm", env=env)  # no name: a dangling image, its id only
    assert r.returncode == 0 and len(r.stdout.strip()) == 64 and r.stderr == ""
    doc = _inspect(run_pyman, env, r.stdout.strip())
    assert doc["ManifestType"] == "application/vnd.oci.image.manifest.v1+json"
    run_pyman("rm", "-f", "-t", "0", "cm", env=env)
