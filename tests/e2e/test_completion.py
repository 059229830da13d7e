"""Shell completion: the shipped files are what `pyman completion` prints, and they work: the
real bash script (its function, fed COMP_WORDS as bash feeds it), fish's own `complete -C` on
the fish script, and zsh's protocol (the env vars its script sets). Names come from the store:
the containers, image, volume and pod made here are offered where Podman offers them."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import NET, wait_for

COMPLETIONS = Path(__file__).resolve().parents[2] / "pyman" / "completions"
IMAGE = "docker.io/library/alpine:latest"
NAMES = {"new": "cpl-new", "up": "cpl-up", "vol": "cpl-vol", "pod": "cpl-pod"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shipped_files_are_in_sync(run_pyman, shell: str) -> None:
    r = run_pyman("completion", shell)
    assert r.returncode == 0, r.stderr
    assert (COMPLETIONS / f"pyman.{shell}").read_text() == r.stdout, (
        f"completions/pyman.{shell} is stale: regenerate with `pyman completion {shell} "
        f"-f pyman/completions/pyman.{shell}`")


def test_unknown_shell_is_refused(run_pyman) -> None:
    r = run_pyman("completion", "tcsh")
    assert r.returncode == 125 and "tcsh" in r.stderr and "bash" in r.stderr


def bash_complete(env: dict[str, str], line: str) -> list[str]:
    """What the shipped bash script puts in COMPREPLY for the command line ``line`` (the
    cursor at its end), with the words split as bash splits them (also at ':' and '=')."""
    words = _bash_words(line)
    script = (f"source {COMPLETIONS}/pyman.bash; "
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); "
              f"COMP_CWORD={len(words) - 1}; COMP_LINE={shlex.quote(line)}; "
              f"COMP_POINT={len(line)}; _pyman_completion pyman; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def _bash_words(line: str) -> list[str]:
    """COMP_WORDS: split at blanks, and ':' and '=' are words of their own (COMP_WORDBREAKS)."""
    words: list[str] = []
    for part in line.split(" "):
        piece = ""
        for ch in part:
            if ch in ":=":
                if piece:
                    words.append(piece)
                words.append(ch)
                piece = ""
            else:
                piece += ch
        if piece or not part:
            words.append(piece)
    return words


def zsh_complete(env: dict[str, str], line: str) -> str:
    """What pyman answers the zsh script (which passes the line as _TYPER_COMPLETE_ARGS)."""
    r = subprocess.run(["pyman"], env={**env, "_PYMAN_COMPLETE": "complete_zsh",
                                       "_TYPER_COMPLETE_ARGS": line},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def store(pyman_bin: Path, pyman_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A created container, a running one, a volume and a pod, removed afterwards."""
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pyman_bin), *args], env=pyman_env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    for name in NAMES.values():  # what a killed earlier run may have left
        pm("rm", "-f", name)
    pm("volume", "rm", "-f", NAMES["vol"])
    pm("pod", "rm", "-f", NAMES["pod"])
    steps = [pm("create", "--name", NAMES["new"], *NET, "alpine", "true"),
             pm("run", "-d", "--name", NAMES["up"], *NET, "alpine", "sleep", "300"),
             pm("volume", "create", NAMES["vol"]),
             pm("pod", "create", "--name", NAMES["pod"])]
    for r in steps:
        assert r.returncode == 0, r.stderr
    assert wait_for(lambda: "running" in pm("inspect", "--format", "{{.State.Status}}",
                                              NAMES["up"]).stdout)
    ids = {name: pm("inspect", "--format", "{{.Id}}", name).stdout.strip()
           for name in (NAMES["new"], NAMES["up"])}
    try:
        yield ids
    finally:
        pm("rm", "-f", "-t", "0", NAMES["new"], NAMES["up"])
        pm("volume", "rm", "-f", NAMES["vol"])
        pm("pod", "rm", "-f", NAMES["pod"])


@pytest.mark.parametrize(("line", "expected"), [
    ("pyman ru", {"run"}),
    ("pyman run --ne", {"--network", "--net"}),
    ("pyman rm", {"rm", "rmi"}),
    ("pyman vol", {"volume"}),
    ("pyman volume i", {"inspect"}),
    ("pyman --", {"--log-level", "--runtime", "--help", "--version"}),
    ("pyman completion ", {"bash", "zsh", "fish"}),
    ("pyman run --pull ", {"always", "missing", "never", "newer"}),
    ("pyman run --network ", {"pasta", "slirp4netns", "host", "none", "container:"}),
    ("pyman kill -s SIGK", {"SIGKILL"}),
    ("pyman create --image-volume t", {"tmpfs"}),
    ("pyman run --sdnotify ", {"container", "conmon", "ignore"}),
    ("pyman --log-level debug vol", {"volume"}),
    ("pyman run --restart ", {"no", "on-failure", "always", "unless-stopped"}),
    ("pyman create --log-driver ", {"k8s-file", "json-file", "none", "passthrough"}),
    ("pyman generate systemd --restart-policy on-", {"on-failure", "on-abort"}),
    ("pyman pod create --network ", {"pasta", "host", "none"}),
    ("pyman save --format ", {"docker-archive", "oci-archive"}),
    ("pyman ps --format ", {"json"}),
])
def test_bash_completes_commands_flags_and_fixed_values(pyman_env, line: str,
                                                        expected: set[str]) -> None:
    offered = bash_complete(pyman_env, line)
    assert expected <= set(offered), offered
    assert all(w.startswith(line.split(" ")[-1]) for w in offered if line[-1] != " "), offered


def test_bash_offers_every_command(pyman_env, run_pyman) -> None:
    listed = run_pyman("--help")  # the commands' names as the help lists them
    assert listed.returncode == 0, listed.stderr
    offered = bash_complete(pyman_env, "pyman ")
    for name in ("run", "ps", "container", "image", "volume", "pod", "completion", "cp"):
        assert name in offered and name in listed.stdout, offered
    assert len(offered) == len(set(offered)) > 30, offered


def _ours(words: list[str]) -> set[str]:
    return {w for w in words if w.removeprefix("container:").startswith("cpl-")}


@pytest.mark.parametrize(("line", "expected"), [
    ("pyman rm ", {"cpl-new", "cpl-up"}),
    ("pyman logs -f cpl-", {"cpl-new", "cpl-up"}),
    ("pyman container rm cpl-", {"cpl-new", "cpl-up"}),
    ("pyman restart ", {"cpl-new", "cpl-up"}),
    ("pyman rename ", {"cpl-new", "cpl-up"}),
    ("pyman port cpl-u", {"cpl-up"}),
    ("pyman stop ", {"cpl-up"}),  # running ones only, as Podman
    ("pyman exec ", {"cpl-up"}),
    ("pyman kill ", {"cpl-up"}),
    ("pyman pause ", {"cpl-up"}),
    ("pyman attach ", {"cpl-up"}),
    ("pyman container stop ", {"cpl-up"}),
    ("pyman start ", {"cpl-new"}),  # those that do not run
    ("pyman unpause ", set()),
    ("pyman volume rm ", {"cpl-vol"}),
    ("pyman volume inspect cpl", {"cpl-vol"}),
    ("pyman run -v cpl", {"cpl-vol"}),
    ("pyman pod rm ", {"cpl-pod"}),
    ("pyman pod inspect cp", {"cpl-pod"}),
    ("pyman run --pod ", {"cpl-pod"}),
    ("pyman inspect cpl-", {"cpl-new", "cpl-up", "cpl-vol"}),
    ("pyman kube generate cpl", {"cpl-pod", "cpl-new", "cpl-up"}),
    ("pyman generate systemd --new cpl-", {"cpl-pod", "cpl-new", "cpl-up"}),
])
def test_bash_offers_names_from_the_store(store, pyman_env, line: str,
                                          expected: set[str]) -> None:
    assert _ours(bash_complete(pyman_env, line)) == expected


def test_bash_offers_ids_and_images(store, pyman_env) -> None:
    cid = store["cpl-up"]
    assert bash_complete(pyman_env, f"pyman stop {cid[:3]}") == [cid[:12]]
    assert IMAGE in bash_complete(pyman_env, "pyman rmi ")
    assert "alpine:latest" in bash_complete(pyman_env, "pyman run --rm alp")
    for line in ("pyman image inspect docker.io/lib", "pyman history ", "pyman save ",
                 "pyman push ", "pyman tag ", "pyman create -q "):
        assert IMAGE in bash_complete(pyman_env, line), line
    assert bash_complete(pyman_env, "pyman rmi zzz-no-such") == []


def test_bash_completes_through_colons(store, pyman_env) -> None:
    """cp's CONTAINER: and --network container:NAME, though bash splits words at ':'."""
    assert _ours(bash_complete(pyman_env, "pyman cp cpl-u")) == {"cpl-up:"}
    assert _ours(bash_complete(pyman_env, "pyman run --network container:cpl-u")) == {
        "cpl-up"}  # bash replaces only what follows the ':'


def test_zsh_protocol_offers_names_and_flags(store, pyman_env) -> None:
    out = zsh_complete(pyman_env, "pyman stop ")
    assert '"cpl-up"' in out and "cpl-new" not in out, out
    out = zsh_complete(pyman_env, "pyman run --ne")
    assert '"--network"' in out, out
    out = zsh_complete(pyman_env, "pyman run -")  # help texts are plain text, not markup
    assert '"--publish":"[ip\\\\:][hostPort\\\\:]containerPort[/tcp|/udp]' in out, out
    assert '"pod":"' in zsh_complete(pyman_env, "pyman po"), "no help text for pod"
    assert '"cpl-vol"' in zsh_complete(pyman_env, "pyman volume rm cpl")
    assert zsh_complete(pyman_env, "pyman --version ").startswith("_arguments")  # no version


def test_fish_completes_with_the_shipped_script(store, pyman_env) -> None:
    fish = shutil.which("fish", path=pyman_env["PATH"])
    if fish is None:
        pytest.fail("fish is not installed: run scripts/setup-host.sh", pytrace=False)

    def complete(line: str) -> list[str]:
        r = subprocess.run([fish, "--no-config", "-c",
                            f"source {COMPLETIONS}/pyman.fish; complete -C {shlex.quote(line)}"],
                           env=pyman_env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return [w.split("\t")[0] for w in r.stdout.splitlines()]

    assert _ours(complete("pyman stop ")) == {"cpl-up"}
    assert _ours(complete("pyman start ")) == {"cpl-new"}
    assert _ours(complete("pyman pod stop ")) == {"cpl-pod"}
    assert "--network" in complete("pyman run --net")
    assert "--publish" in complete("pyman run -")  # its help has brackets: not rich markup
    assert "run" in complete("pyman ru")
