"""`pyman __complete` / `__completeNoDesc`: cobra's completion protocol, as Podman's scripts
and its BATS 600-completion speak it: candidates, `:<directive>`, and the directive's name on
stderr. Paths inside an image (run/create after the image) and a container (cp CTR:) are
read from the layers, links resolved inside them, never on the host."""

from __future__ import annotations

import pytest
from lifecycle_util import NET


def complete(run_pyman, env, *words: str, desc: bool = False) -> tuple[list[str], int, str]:
    r = run_pyman("__complete" if desc else "__completeNoDesc", *words, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1].startswith(":"), r.stdout
    return lines[:-1], int(lines[-1][1:]), r.stderr.strip().splitlines()[-1]


@pytest.fixture
def env(run_pyman, fresh_env):
    assert run_pyman("pull", "-q", "alpine", env=fresh_env).returncode == 0
    return fresh_env


@pytest.mark.parametrize("cmd", ["create", "run"])
def test_paths_in_the_image(run_pyman, env, cmd: str) -> None:
    values, directive, said = complete(run_pyman, env, cmd, "alpine", "")
    assert {"/etc/", "/home/", "/root/", "/bin/"} <= set(values), values
    assert directive == 2 and said == "Completion ended with directive: ShellCompDirectiveNoSpace"
    values, _, _ = complete(run_pyman, env, cmd, "alpine", "/etc")
    assert "/etc/os-release" in values and "/etc/" not in values
    values, _, _ = complete(run_pyman, env, cmd, "alpine", "/etc/os-")
    assert values == ["/etc/os-release"]
    # `..` stops at the image's root: the host's paths never show
    values, _, _ = complete(run_pyman, env, cmd, "alpine", "../../")
    assert {"../../etc/", "../../home/"} <= set(values), values
    values, directive, _ = complete(run_pyman, env, cmd, "alpine", "/bin/bus")
    assert (values, directive) == (["/bin/busybox"], 0)  # one file: a space may follow
    # an image that is not there: nothing, and the shell's own completion
    values, directive, said = complete(run_pyman, env, cmd, "no-such-image", "/")
    assert (values, directive) == ([], 0) and said.endswith("ShellCompDirectiveDefault")


def test_cp_paths_in_a_container(run_pyman, env) -> None:
    r = run_pyman("run", *NET, "--name", "cpc", "alpine", "sh", "-c",
                  "touch /tmp/f1 /tmp/f12 && mkdir /emptydir && rm /etc/group", env=env)
    assert r.returncode == 0, r.stderr
    values, directive, _ = complete(run_pyman, env, "cp", "cp")
    assert values == ["cpc:"] and directive == 2
    values, _, _ = complete(run_pyman, env, "cp", "cpc:")
    assert "cpc:/etc/" in values and "cpc:/emptydir/" in values
    values, _, _ = complete(run_pyman, env, "cp", "cpc:/tmp")
    assert values == ["cpc:/tmp/f1", "cpc:/tmp/f12"]
    values, directive, said = complete(run_pyman, env, "cp", "cpc:/emptydir")
    assert values == ["cpc:/emptydir/"] and directive == 2, (values, said)
    # what the container removed is gone from the listing (a whiteout in its upper dir)
    values, _, _ = complete(run_pyman, env, "cp", "cpc:/etc/")
    assert "cpc:/etc/passwd" in values and "cpc:/etc/group" not in values, values
    values, _, _ = complete(run_pyman, env, "create", "alpine", "/etc/g")
    assert values == ["/etc/group"]  # still in the image
    # a host path is left to the shell
    values, directive, _ = complete(run_pyman, env, "cp", "./")
    assert (values, directive) == ([], 0)
    assert run_pyman("rm", "cpc", env=env).returncode == 0


def test_names_flags_and_directives(run_pyman, env) -> None:
    r = run_pyman("create", *NET, "--name", "made-here", "alpine", "true", env=env)
    assert r.returncode == 0, r.stderr
    values, directive, said = complete(run_pyman, env, "rm", "")
    assert values == ["made-here"] and directive == 4
    assert said == "Completion ended with directive: ShellCompDirectiveNoFileComp"
    values, _, _ = complete(run_pyman, env, "stop", "")  # running ones only
    assert values == []
    values, directive, _ = complete(run_pyman, env, "ps", "")  # takes no arguments
    assert values == [] and directive == 4
    values, _, _ = complete(run_pyman, env, "run", "--ne", desc=True)
    assert any(v.startswith("--network\t") for v in values), values
    values, _, _ = complete(run_pyman, env, "vol")
    assert values == ["volume"]
    values, _, _ = complete(run_pyman, env, "create", "")
    assert "docker.io/library/alpine:latest" in values
    assert run_pyman("rm", "made-here", env=env).returncode == 0


def test_the_directive_line_comes_last_on_a_shared_pipe(pyman_bin, env) -> None:
    """Scripts (and Podman's BATS) read stdout and stderr merged: cobra's order."""
    import subprocess

    r = subprocess.run([str(pyman_bin), "__completeNoDesc", "create", "alpine", "/etc/pa"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60)
    assert r.stdout.splitlines() == ["/etc/passwd", ":0", "Completion ended with directive: "
                                     "ShellCompDirectiveDefault"], r.stdout
