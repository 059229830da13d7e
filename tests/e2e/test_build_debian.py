"""The issue's end-to-end build: a C program compiled by gcc in a Debian stage (a base the
tests debootstrap themselves: debian_base.py), the static binary copied with --chown into a
busybox stage; the result run by pyman, checked for its owner inside the container, rebuilt
from the cache (proved by what ran and the image id, not by timing), and run by podman from
what `pyman save` wrote."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from debian_base import debian_gcc_tarball

HELLO_C = r"""#include <stdio.h>
int main(void) { printf("hello from %s, %d\n", GREETING, (int)sizeof(void *) * 8); return 0; }
"""


@pytest.fixture(scope="session")
def debian_tar() -> Path:
    path, why = debian_gcc_tarball()
    if path is None:
        pytest.skip(why)
    return path


def test_multistage_gcc_into_busybox(run_pyman, fresh_env, tmp_path: Path,
                                     debian_tar: Path) -> None:
    env = fresh_env
    base = f"localhost/debian-gcc:{uuid.uuid4().hex[:6]}"
    r = run_pyman("import", "-q", str(debian_tar), base, env=env)
    assert r.returncode == 0, r.stderr
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello.c").write_text(HELLO_C)
    (ctx / "notes.txt").write_text("not needed by the build\n")
    (ctx / "Containerfile").write_text(f"""FROM {base} AS build
ARG GREETING=gcc
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -DGREETING="\\"$GREETING\\"" -o /hello hello.c && echo compiled-now

FROM busybox
COPY --from=build --chown=1234:2345 /hello /usr/local/bin/hello
USER 1234
CMD ["/usr/local/bin/hello"]
""")
    r = run_pyman("build", "-t", "hello:1", str(ctx), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "compiled-now" in r.stdout.splitlines()
    first = r.stdout.splitlines()[-1]
    r = run_pyman("run", "--rm", "hello:1", env=env)
    assert (r.returncode, r.stdout) == (0, "hello from gcc, 64\n"), r.stderr
    r = run_pyman("run", "--rm", "hello:1", "stat", "-c", "%u:%g %a", "/usr/local/bin/hello",
                  env=env)
    assert r.stdout.split()[0] == "1234:2345", r.stdout
    assert run_pyman("ps", "-aq", env=env).stdout == ""  # no build container left
    r = run_pyman("history", "--no-trunc", "--format", "{{.CreatedBy}}", "hello:1", env=env)
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /usr/local/bin/hello ",
                        r.stdout.splitlines()[2]), r.stdout
    # nothing changed (a file the build does not read did): every step from the cache, no
    # gcc run, the same image
    (ctx / "notes.txt").write_text("edited\n")
    r = run_pyman("build", "-t", "hello:1", str(ctx), env=env)
    assert r.returncode == 0, r.stderr
    assert "compiled-now" not in r.stdout.splitlines()
    assert r.stdout.count("--> Using cache") == 6, r.stdout
    assert r.stdout.splitlines()[-1] == first
    # a build arg in scope changes the RUN's key (compiled again), not WORKDIR's or COPY's
    # before it, as Buildah keys them
    r = run_pyman("build", "--build-arg", "GREETING=arg", "-t", "hello:2", str(ctx), env=env)
    assert r.returncode == 0 and "compiled-now" in r.stdout.splitlines(), r.stderr
    assert r.stdout.count("--> Using cache") == 2, r.stdout
    assert run_pyman("run", "--rm", "hello:2", env=env).stdout == "hello from arg, 64\n"
    _podman_runs_saved(run_pyman, env, tmp_path, "hello:1", "hello from gcc, 64\n")


def _podman_runs_saved(run_pyman, env, tmp_path: Path, image: str, expected: str) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    archive = tmp_path / "img.tar"
    r = run_pyman("save", "-o", str(archive), image, env=env)
    assert r.returncode == 0, r.stderr
    root = tmp_path / "podman"
    runroot = tempfile.mkdtemp(prefix="pm-deb-")
    base = ["podman", "--root", str(root), "--runroot", runroot, "--storage-driver", "vfs"]
    try:
        r = subprocess.run([*base, "load", "-i", str(archive)], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([*base, "run", "--rm", "--network", "none", image],
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert (r.returncode, r.stdout) == (0, expected), r.stderr
        r = subprocess.run([*base, "run", "--rm", "--network", "none", image, "stat", "-c",
                            "%u:%g", "/usr/local/bin/hello"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.stdout.strip() == "1234:2345", r.stderr
    finally:
        subprocess.run([*base, "system", "reset", "-f"], capture_output=True, timeout=120)
        subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", "--",
                        str(root), runroot], capture_output=True, timeout=60)
        if os.path.exists(runroot):
            shutil.rmtree(runroot, ignore_errors=True)
