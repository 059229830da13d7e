"""pyman push against real docker-registry instances: the loopback one on :5000, one with
htpasswd auth and one with token auth. What pyman pushes, podman and skopeo pull.

The registries' own access logs are the witnesses for how blobs went up: HEAD, POST ?mount=,
PATCH with Content-Range, PUT ?digest=.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from authreg import USERS, Registry, start_basic_registry, start_token_registry

SOURCE_REPO = "pyman-test/layers"
CREDS = f"alice:{USERS['alice']}"


@pytest.fixture(scope="module")
def basic_reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_basic_registry(tmp_path_factory.mktemp("push-basic-reg"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_token_registry(tmp_path_factory.mktemp("push-token-reg"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def source(registry: str, test_images: dict[str, str]) -> tuple[str, str]:
    """(reference, manifest digest) of the test image pushed around here."""
    return f"{registry}/{SOURCE_REPO}:latest", test_images[f"{SOURCE_REPO}:latest"]


@pytest.fixture
def env(fresh_env: dict[str, str], tmp_path: Path, run_pyman, source) -> dict[str, str]:
    """A fresh store holding the source image, and an auth file of the test's own."""
    env = dict(fresh_env, REGISTRY_AUTH_FILE=str(tmp_path / "auth.json"))
    r = run_pyman("pull", "-q", source[0], env=env)
    assert r.returncode == 0, r.stderr
    return env


def unique(prefix: str = "pyman-pushed") -> str:
    return f"{prefix}/t{secrets.token_hex(4)}"


def access_log(reg: Registry, repo: str) -> list[tuple[str, str, int]]:
    """(method, request URI, status) the registry logged for ``repo``."""
    out = []
    for m in re.finditer(r'"(\w+) (/v2/[^ ]+) HTTP/1\.1" (\d+)', reg.log.read_text()):
        if m.group(2).startswith(f"/v2/{repo}/"):
            out.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def trust_plain_http(env: dict[str, str], addr: str) -> None:
    """registries.conf `insecure = true` for ``addr``: pulls need no --tls-verify flag."""
    conf = Path(env["XDG_CONFIG_HOME"]) / "containers" / "registries.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    with open(conf, "a") as f:
        f.write(f'[[registry]]\nlocation = "{addr}"\ninsecure = true\n')


def skopeo(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_push_to_loopback_registry_mounts_and_podman_and_skopeo_pull_it(
        run_pyman, env, source, registry, tmp_path):
    dest = f"{registry}/{unique()}:v1"
    digestfile = tmp_path / "digest"
    r = run_pyman("push", "--tls-verify=false", "--digestfile", str(digestfile), source[0], dest,
                  env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "Getting image source signatures"
    assert lines[-1] == "Writing manifest to image destination"
    assert any(line.startswith("Copying config sha256:") for line in lines)
    # the manifest went up byte for byte: same digest as the source
    assert digestfile.read_text() == source[1]
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{dest}", env=env)
    assert raw.returncode == 0, raw.stderr
    layers = json.loads(raw.stdout)["layers"]
    inspect = skopeo("inspect", "--tls-verify=false", f"docker://{dest}", env=env)
    assert json.loads(inspect.stdout)["Digest"] == source[1]
    copied = skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{dest}",
                    f"oci:{tmp_path / 'oci'}:x", env=env)
    assert copied.returncode == 0, copied.stderr
    for layer in layers:  # skopeo verified each blob's digest while copying
        assert (tmp_path / "oci/blobs/sha256" / layer["digest"].split(":")[1]).exists()
    # podman, with a store of its own under tmp (the user's podman store stays untouched)
    runroot = tempfile.mkdtemp(prefix="pyman-prun-")  # podman wants it short
    podman = ["podman", "--root", str(tmp_path / "proot"), "--runroot", runroot,
              "--storage-driver", "vfs"]
    penv = {k: v for k, v in env.items() if k != "REGISTRY_AUTH_FILE"}  # podman: must exist
    p = subprocess.run([*podman, "pull", "-q", "--tls-verify=false", dest], env=penv,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    pi = subprocess.run([*podman, "image", "inspect", "--format", "{{.Digest}} {{.Id}}", dest],
                        env=penv, capture_output=True, text=True, timeout=60)
    ours = run_pyman("images", "--format", "json", env=env)
    our_ids = {i["Id"] for i in json.loads(ours.stdout)}
    digest, image_id = pi.stdout.split()
    assert digest == source[1] and image_id in our_ids
    subprocess.run([*podman, "unshare", "rm", "-rf", str(tmp_path / "proot"), runroot], env=penv,
                   capture_output=True, timeout=60)
    shutil.rmtree(runroot, ignore_errors=True)


def test_blobs_the_registry_has_elsewhere_are_mounted_not_uploaded(run_pyman, env, source,
                                                                   registry):
    repo = unique()
    r = run_pyman("push", "--tls-verify=false", source[0], f"{registry}/{repo}:v1", env=env)
    assert r.returncode == 0, r.stderr
    log = Path("/var/lib/pyman-testground/registry.log")
    if not log.exists():
        pytest.skip("the loopback registry's log is not readable here")
    text = log.read_text()
    posts = re.findall(rf'"POST /v2/{repo}/blobs/uploads/\?[^ ]*from={re.escape(SOURCE_REPO.replace("/", "%2F"))}[^ ]* HTTP/1.1" (\d+)', text)
    assert posts and set(posts) == {"201"}, "every blob should be mounted from the source repo"
    assert not re.search(rf'"(PATCH|PUT) /v2/{repo}/blobs/', text), "no blob may be uploaded"


def test_push_with_basic_auth_then_pull_with_stored_credentials(run_pyman, env, source, basic_reg,
                                                                fresh_env, tmp_path):
    repo = unique("team")
    dest = f"{basic_reg.addr}/{repo}:v1"
    r = run_pyman("push", "--tls-verify=false", source[0], dest, env=env)
    assert r.returncode == 125
    assert "authentication required" in r.stderr
    assert [line for line in r.stderr.splitlines() if "Error" in line] == [
        r.stderr.strip().splitlines()[-1]]
    r = run_pyman("push", "--tls-verify=false", "--creds", "alice:wrong", source[0], dest, env=env)
    assert r.returncode == 125 and "Error:" in r.stderr
    # wrong credentials stored in the auth file: the registry's own words end the line, as
    # Podman's do (its BATS 150-login "push fail")
    bad = tmp_path / "bad-auth.json"
    bad.write_text(json.dumps({"auths": {basic_reg.addr: {
        "auth": base64.b64encode(b"baduser:wrongpassword").decode()}}}))
    r = run_pyman("push", f"--authfile={bad}", "--tls-verify=false", source[0], dest, env=env)
    assert r.returncode == 125
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "credentials of 'baduser'" in last, r.stderr
    assert last.endswith(": unauthorized: authentication required"), r.stderr
    r = run_pyman("push", "--tls-verify=false", "--creds", CREDS, source[0], dest, env=env)
    assert r.returncode == 0, r.stderr
    # everything went up (a registry of its own: nothing to mount), monolithic PUTs
    log = access_log(basic_reg, repo)
    puts = [e for e in log if e[0] == "PUT" and "/blobs/uploads/" in e[1]]
    assert len(puts) == len(json.loads(skopeo("inspect", "--tls-verify=false", "--raw",
                                              "--creds", CREDS, f"docker://{dest}",
                                              env=env).stdout)["layers"]) + 1
    assert all(status == 201 for _, _, status in puts)
    assert ("PUT", f"/v2/{repo}/manifests/v1", 201) in log
    # again: everything is already there
    r = run_pyman("push", "--tls-verify=false", "--creds", CREDS, source[0], dest, env=env)
    assert r.returncode == 0 and "skipped: already exists" in r.stderr
    # pull into an empty store: refused anonymously, fine after login (credentials from the file)
    pull_env = dict(fresh_env, REGISTRY_AUTH_FILE=str(tmp_path / "puller.json"))
    trust_plain_http(pull_env, basic_reg.addr)
    r = run_pyman("pull", dest, env=pull_env)
    assert r.returncode == 125 and "authentication required" in r.stderr
    r = run_pyman("pull", "-q", "--creds", "alice:wrong", dest, env=pull_env)
    assert r.returncode == 125 and "refused the credentials of 'alice'" in r.stderr
    r = run_pyman("pull", "-q", "--creds", CREDS, dest, env=pull_env)  # given, not stored
    assert r.returncode == 0, r.stderr
    assert not Path(pull_env["REGISTRY_AUTH_FILE"]).exists()
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"],
                  basic_reg.addr, env=pull_env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("pull", "-q", dest, env=pull_env)
    assert r.returncode == 0, r.stderr
    ids = run_pyman("images", "-q", "--no-trunc", env=env).stdout.split()
    assert "sha256:" + r.stdout.strip() in ids  # Podman's full ids carry the algorithm


def test_token_auth_push_scopes_and_cross_repo_mount(run_pyman, env, source, token_reg,
                                                     fresh_env, tmp_path):
    svc = token_reg.token_service
    assert svc is not None
    r = run_pyman("push", "--tls-verify=false", source[0], f"{token_reg.addr}/team/app:v1",
                  env=env)
    assert r.returncode == 125, r.stderr  # anonymous users may not push
    err = r.stderr.strip().splitlines()[-1]
    assert "requested access to the resource is denied" in err, err
    assert f"pyman login {token_reg.addr}" in err
    r = run_pyman("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"],
                  token_reg.addr, env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("push", "--tls-verify=false", source[0], f"{token_reg.addr}/team/app:v1",
                  env=env)
    assert r.returncode == 0, r.stderr
    assert any(req.account == "alice" and req.scopes == ["repository:team/app:pull,push"]
               for req in svc.requests)
    # an image pulled from team/app, pushed to team/other: its blobs are mounted across
    pull_env = dict(fresh_env, REGISTRY_AUTH_FILE=env["REGISTRY_AUTH_FILE"])
    trust_plain_http(pull_env, token_reg.addr)
    r = run_pyman("pull", "-q", f"{token_reg.addr}/team/app:v1", env=pull_env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("push", "--tls-verify=false", f"{token_reg.addr}/team/app:v1",
                  f"{token_reg.addr}/team/other:v1", env=pull_env)
    assert r.returncode == 0, r.stderr
    assert any(req.scopes == ["repository:team/other:pull,push", "repository:team/app:pull"]
               for req in svc.requests)
    log = access_log(token_reg, "team/other")
    mounts = [e for e in log if e[0] == "POST" and "mount=" in e[1]]
    assert mounts and all(status == 201 for _, _, status in mounts)
    assert not [e for e in log if e[0] in ("PATCH", "PUT") and "/blobs/" in e[1]]
    # skopeo pulls it with the same credentials
    sk = skopeo("inspect", "--tls-verify=false", "--creds", CREDS,
                f"docker://{token_reg.addr}/team/other:v1", env=env)
    assert sk.returncode == 0 and json.loads(sk.stdout)["Digest"] == source[1], sk.stderr


def test_blobs_pushed_before_are_mounted_in_another_repository(run_pyman, env, source,
                                                                basic_reg):
    """pyman remembers where it pushed blobs: a second repository of the same registry gets
    them mounted from the first, not uploaded again."""
    first, second = unique("team"), unique("team")
    for repo in (first, second):
        r = run_pyman("push", "--tls-verify=false", "--creds", CREDS, source[0],
                      f"{basic_reg.addr}/{repo}:v1", env=env)
        assert r.returncode == 0, r.stderr
    assert [e for e in access_log(basic_reg, first) if e[0] == "PUT" and "/blobs/" in e[1]]
    log = access_log(basic_reg, second)
    mounts = [e for e in log if e[0] == "POST" and "mount=" in e[1]]
    assert len(mounts) == 4 and all(f"from={first.replace('/', '%2F')}" in e[1]
                                    and e[2] == 201 for e in mounts)  # 3 layers + config
    assert not [e for e in log if e[0] in ("PATCH", "PUT") and "/blobs/" in e[1]]


def test_chunked_upload(env, source, basic_reg, pyman_env):
    """Blobs above the chunk size go up in PATCHes with Content-Range, then PUT ?digest=."""
    from pyman.config import Paths
    from pyman.engine.images.registry import RegistryService
    from pyman.engine.types import PushOptions

    data = Path(env["XDG_DATA_HOME"]) / "pyman"
    paths = Paths(data=data, runtime=data / "run", config=Path(env["XDG_CONFIG_HOME"]) / "containers",
                  runtime_base=data / "run", runtime_fallback=False)
    repo = unique("chunked")
    dest = f"{basic_reg.addr}/{repo}:v1"
    report = RegistryService(paths).push(PushOptions(source[0], dest, tls_verify=False,
                                                     creds=CREDS, chunk_size=256 << 10))
    assert report.digest == source[1]
    log = access_log(basic_reg, repo)
    patches = [e for e in log if e[0] == "PATCH"]
    assert len(patches) >= 4 and all(status == 202 for _, _, status in patches)
    assert any(e[0] == "PUT" and "digest=" in e[1] and e[2] == 201 for e in log)
    sk = skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", CREDS,
                f"docker://{dest}", "oci:" + str(data.parent / "chunked-oci") + ":x", env=env)
    assert sk.returncode == 0, sk.stderr


def test_format_conversion_to_oci(run_pyman, env, source, registry):
    dest = f"{registry}/{unique()}:oci"
    r = run_pyman("push", "-q", "--tls-verify=false", "--format", "oci", source[0], dest, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == ""
    raw = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{dest}",
                            env=env).stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert raw["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert {layer["mediaType"] for layer in raw["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+gzip"}
    sk = skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{dest}",
                "oci:" + str(Path(env["XDG_DATA_HOME"]).parent / "fmt-oci") + ":x", env=env)
    assert sk.returncode == 0, sk.stderr


def test_format_docker_is_v2s2(run_pyman, env, source, registry):
    dest = f"{registry}/{unique()}:docker"
    r = run_pyman("push", "-q", "--tls-verify=false", "--format", "docker", source[0], dest,
                  env=env)
    assert r.returncode == 0, r.stderr
    raw = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{dest}",
                            env=env).stdout)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"


def test_unknown_image_is_a_clear_error(run_pyman, env, registry):
    r = run_pyman("push", "--tls-verify=false", "nosuchimage", f"{registry}/x/y:z", env=env)
    assert r.returncode == 125 and r.stderr.strip() == "Error: nosuchimage: image not known"


def tree_listing(layer_dir: Path) -> list[str]:
    """Every entry of an unpacked layer: path, type+mode, owner, size, links, target,
    as seen from inside the user namespace (the files belong to sub-ids)."""
    r = subprocess.run(["unshare", "--map-auto", "--map-root-user", "find", ".", "-printf",
                        r"%P %M %U:%G %s %n %l %Y\n"], cwd=layer_dir / "diff",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # directory sizes depend on the file system's history, not on the layer
    return sorted(" ".join(p for k, p in enumerate(line.split(" ")) if not (k == 3 and "d" in line.split(" ")[1][:1]))
                  for line in r.stdout.splitlines())


def test_missing_layer_blobs_are_recompressed_from_the_unpacked_layers(
        run_pyman, env, source, registry, fresh_env, tmp_path):
    """An image whose compressed layers are not stored (as after load/import) is pushed from
    its unpacked layers: whiteouts, opaque dirs, owners, modes and links survive, and the
    result pulls back (pyman checks every diff_id) into the same trees."""
    data = Path(env["XDG_DATA_HOME"]) / "pyman"
    raw = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{source[0]}",
                            env=env).stdout)
    for layer in raw["layers"]:
        (data / "blobs/sha256" / layer["digest"].split(":")[1]).unlink()
    dest = f"{registry}/{unique()}:v1"
    r = run_pyman("push", "--tls-verify=false", source[0], dest, env=env)
    assert r.returncode == 0, r.stderr
    assert "WARN: 3 layer blob(s)" in r.stderr
    pushed = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{dest}",
                               env=env).stdout)
    assert pushed["mediaType"] == raw["mediaType"] and len(pushed["layers"]) == 3
    pull_env = dict(fresh_env, XDG_DATA_HOME=str(tmp_path / "other-data"))
    r = run_pyman("pull", "-q", dest, env=pull_env)
    assert r.returncode == 0, r.stderr
    src_cfg = json.loads(skopeo("inspect", "--tls-verify=false", "--config",
                                f"docker://{source[0]}", env=env).stdout)
    new_cfg = json.loads(skopeo("inspect", "--tls-verify=false", "--config",
                                f"docker://{dest}", env=env).stdout)
    assert new_cfg["config"] == src_cfg["config"] and new_cfg["history"] == src_cfg["history"]
    for old, new in zip(src_cfg["rootfs"]["diff_ids"], new_cfg["rootfs"]["diff_ids"],
                        strict=True):
        before = tree_listing(data / "layers" / old.split(":")[1])
        after = tree_listing(tmp_path / "other-data/pyman/layers" / new.split(":")[1])
        assert before == after
    # the opaque directory of the top layer is opaque again (overlay's xattr, from .wh..wh..opq)
    top = tmp_path / "other-data/pyman/layers" / new_cfg["rootfs"]["diff_ids"][-1].split(":")[1]
    r = subprocess.run(["unshare", "--map-auto", "--map-root-user", "/usr/bin/python3", "-c",
                        "import os,sys; print(os.getxattr(sys.argv[1], 'user.overlay.opaque'))",
                        str(top / "diff/opaque")], capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "b'y'", r.stderr
    # with the config gone too, there is nothing to push from: a clear error
    (data / "blobs/sha256" / raw["config"]["digest"].split(":")[1]).unlink()
    r = run_pyman("push", "--tls-verify=false", source[0], f"{registry}/{unique()}:v1", env=env)
    assert r.returncode == 125 and "config" in r.stderr and "Pull it again" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_anonymous_token_pull_of_public_repo_private_refused(run_pyman, env, source, token_reg,
                                                             fresh_env, tmp_path):
    """Docker Hub's flow: an anonymous token (no credentials) with the pull scope."""
    svc = token_reg.token_service
    assert svc is not None
    for repo in ("public/app", "private/app"):
        r = run_pyman("push", "--tls-verify=false", "--creds", CREDS, source[0],
                      f"{token_reg.addr}/{repo}:v1", env=env)
        assert r.returncode == 0, r.stderr
    anon = dict(fresh_env, REGISTRY_AUTH_FILE=str(tmp_path / "nobody.json"))
    trust_plain_http(anon, token_reg.addr)
    before = len(svc.requests)
    r = run_pyman("pull", "-q", f"{token_reg.addr}/public/app:v1", env=anon)
    assert r.returncode == 0, r.stderr
    new = svc.requests[before:]
    assert new and all(req.account is None for req in new)
    assert any(req.scopes == ["repository:public/app:pull"] and req.granted for req in new)
    r = run_pyman("pull", f"{token_reg.addr}/private/app:v1", env=anon)
    assert r.returncode == 125
    assert "requested access to the resource is denied" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("Error: ")
