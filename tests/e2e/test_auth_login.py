"""pyman login / logout against real docker-registry instances: htpasswd (basic) and token auth.

Credentials land where Podman keeps them, in Podman's format (podman and skopeo read them),
mode 0600; bad credentials store nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from authreg import USERS, Registry, start_basic_registry, start_token_registry


@pytest.fixture(scope="module")
def basic_reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_basic_registry(tmp_path_factory.mktemp("basic-reg"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_token_registry(tmp_path_factory.mktemp("token-reg"))
    yield reg
    reg.stop()


@pytest.fixture
def env(fresh_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A session-like environment: a private XDG_RUNTIME_DIR of the test's own."""
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    return dict(fresh_env, XDG_RUNTIME_DIR=str(run))


def auth_of(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    return {k: base64.b64decode(v["auth"]).decode() for k, v in data["auths"].items()}


def test_login_stores_in_runtime_dir_0600_and_skopeo_reads_it(run_pyman, env, basic_reg):
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"],
                  basic_reg.addr, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Login Succeeded!"
    path = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth_of(path) == {basic_reg.addr: f"alice:{USERS['alice']}"}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".auth.json.tmp")]
    # Podman's tools read the same file in the same place
    sk = subprocess.run(["skopeo", "login", "--get-login", basic_reg.addr], env=env,
                        capture_output=True, text=True, timeout=30)
    assert sk.stdout.strip() == "alice", sk.stderr
    r = run_pyman("login", "--get-login", basic_reg.addr, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "alice"
    # logging in again without credentials checks the stored ones
    r = run_pyman("login", "--tls-verify=false", basic_reg.addr, env=env)
    assert r.returncode == 0, r.stderr
    assert f"Already logged in to {basic_reg.addr}" in r.stdout


def test_bad_password_is_refused_and_nothing_stored(run_pyman, env, basic_reg):
    path = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", "wrong", basic_reg.addr,
                  env=env)
    assert r.returncode == 125
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0] == f'Error: logging into "{basic_reg.addr}": invalid username/password'
    assert not path.exists()
    # with other credentials already stored, the file is left exactly as it was
    assert run_pyman("login", "--tls-verify=false", "-u", "bob", "-p", USERS["bob"],
                     basic_reg.addr + "/team", env=env).returncode == 0
    before = path.read_bytes()
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", "nope", basic_reg.addr,
                  env=env)
    assert r.returncode == 125 and "invalid username/password" in r.stderr
    assert path.read_bytes() == before


def test_password_stdin_and_flag_errors(run_pyman, env, basic_reg):
    r = run_pyman("login", "--tls-verify=false", "-u", "bob", "--password-stdin", basic_reg.addr,
                  input=USERS["bob"] + "\n", env=env)
    assert r.returncode == 0, r.stderr
    path = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    assert auth_of(path) == {basic_reg.addr: f"bob:{USERS['bob']}"}
    r = run_pyman("login", "-u", "bob", "-p", "x", "--password-stdin", basic_reg.addr, env=env)
    assert r.returncode == 125 and "--password-stdin and --password" in r.stderr
    # no terminal and no password: fail, never hang
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", basic_reg.addr, input="", env=env)
    assert r.returncode == 125 and "password" in r.stderr


def test_plain_http_needs_tls_verify_false(run_pyman, env, basic_reg):
    r = run_pyman("login", "-u", "alice", "-p", USERS["alice"], basic_reg.addr, env=env)
    assert r.returncode == 125
    assert f'authenticating creds for "{basic_reg.addr}": pinging container registry' in r.stderr
    assert not (Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json").exists()


def test_logout_one_and_all(run_pyman, env, basic_reg):
    authfile = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    for key in (basic_reg.addr, basic_reg.addr + "/team/app"):
        r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"], key,
                      env=env)
        assert r.returncode == 0, r.stderr
    r = run_pyman("logout", basic_reg.addr, env=env)
    assert r.returncode == 0 and r.stdout.strip() == f"Removed login credentials for {basic_reg.addr}"
    assert list(auth_of(authfile)) == [basic_reg.addr + "/team/app"]
    r = run_pyman("logout", basic_reg.addr, env=env)
    assert r.returncode == 125 and f"not logged into {basic_reg.addr}" in r.stderr
    r = run_pyman("logout", "--all", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "Removed login credentials for all registries"
    assert auth_of(authfile) == {}
    assert stat.S_IMODE(authfile.stat().st_mode) == 0o600


def test_authfile_and_registry_auth_file(run_pyman, env, basic_reg, tmp_path):
    explicit = tmp_path / "mine.json"
    r = run_pyman("login", "--tls-verify=false", "--authfile", str(explicit), "-u", "alice",
                  "-p", USERS["alice"], basic_reg.addr, env=env)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(explicit.stat().st_mode) == 0o600
    assert not (Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json").exists()
    via_env = tmp_path / "env.json"
    r = run_pyman("login", "--tls-verify=false", "-u", "bob", "-p", USERS["bob"], basic_reg.addr,
                  env=dict(env, REGISTRY_AUTH_FILE=str(via_env)))
    assert r.returncode == 0, r.stderr
    assert auth_of(via_env) == {basic_reg.addr: f"bob:{USERS['bob']}"}


def test_without_runtime_dir_podmans_fallback_file_is_shared(run_pyman, fresh_env, basic_reg):
    """No XDG_RUNTIME_DIR (su, cron, CI): Podman keeps auth.json in /tmp/podman-run-<uid>;
    pyman uses that file too, so a login with either tool serves both."""
    assert "XDG_RUNTIME_DIR" not in fresh_env
    path = Path(f"/tmp/podman-run-{os.getuid()}/containers/auth.json")
    key = basic_reg.addr + "/fallback-check"
    try:
        r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"], key,
                      env=fresh_env)
        assert r.returncode == 0, r.stderr
        assert auth_of(path)[key] == f"alice:{USERS['alice']}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        pod = subprocess.run(["podman", "login", "--get-login", key], env=fresh_env,
                             capture_output=True, text=True, timeout=60)
        assert pod.stdout.strip() == "alice", pod.stderr
    finally:
        r = run_pyman("logout", key, env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert key not in auth_of(path)


def test_token_auth_login(run_pyman, env, token_reg):
    svc = token_reg.token_service
    assert svc is not None
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"],
                  token_reg.addr, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Login Succeeded!"
    assert svc.requests[-1].account == "alice"
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", "bad", token_reg.addr,
                  env=env)
    assert r.returncode == 125
    assert f'logging into "{token_reg.addr}": invalid username/password' in r.stderr
    assert auth_of(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json") == {
        token_reg.addr: f"alice:{USERS['alice']}"}


def test_https_registry_verification_on_by_default(run_pyman, env, tmp_path):
    """Over TLS with a certificate nobody trusts: refused by default, fine with
    --tls-verify=false (still HTTPS: the credentials never travel in clear)."""
    (tmp_path / "tls-reg").mkdir()
    reg = start_basic_registry(tmp_path / "tls-reg", tls=True)
    try:
        r = run_pyman("login", "-u", "alice", "-p", USERS["alice"], reg.addr, env=env)
        assert r.returncode == 125
        assert "certificate verification failed" in r.stderr, r.stderr
        r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"],
                      reg.addr, env=env)
        assert r.returncode == 0, r.stderr
        log = reg.log.read_text()
        assert '"GET /v2/ HTTP/1.1" 200' in log
        assert "client sent an HTTP request to an HTTPS server" not in log  # no downgrade
        # the registry's CA in certs.d/<host> (Podman's place): verified, and it works
        certs = Path(env["XDG_CONFIG_HOME"]) / "containers" / "certs.d" / reg.addr
        certs.mkdir(parents=True)
        shutil.copy(tmp_path / "tls-reg" / "tls.crt", certs / "ca.crt")
        r = run_pyman("login", "-u", "bob", "-p", USERS["bob"], reg.addr, env=env)
        assert r.returncode == 0, r.stderr
        # or in a directory named with --cert-dir
        shutil.move(certs, tmp_path / "mycerts")
        r = run_pyman("login", "-u", "bob", "-p", USERS["bob"], reg.addr, env=env)
        assert r.returncode == 125 and "certificate verification failed" in r.stderr
        r = run_pyman("login", "--cert-dir", str(tmp_path / "mycerts"), "-u", "bob", "-p",
                      USERS["bob"], reg.addr, env=env)
        assert r.returncode == 0, r.stderr
    finally:
        reg.stop()


def test_concurrent_logins_lose_nothing(run_pyman, env, basic_reg):
    """Every login rewrites the whole file: under the lock, none overwrites another's entry."""
    from concurrent.futures import ThreadPoolExecutor

    keys = [f"{basic_reg.addr}/team{i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda k: run_pyman("login", "--tls-verify=false", "-u", "alice",
                                                    "-p", USERS["alice"], k, env=env), keys))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert sorted(auth_of(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")) == sorted(keys)


@pytest.mark.parametrize("command", ["login", "logout", "push"])
def test_help_renders(run_pyman, command):
    r = run_pyman(command, "--help")
    assert r.returncode == 0, r.stderr
    assert "--authfile" in r.stdout and "Traceback" not in r.stderr
