"""pyman manifest: local manifest lists, stored as Podman stores them (an image of their own
with a name, no config, no layers), in Podman 4.3's shapes; and what the other image commands
say of one."""

from __future__ import annotations

import json


def test_bare_list_is_listed_and_removed_like_an_image(run_pyman, fresh_env) -> None:
    """Podman's BATS 010 "images - bare manifest list"."""
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    r = run_pyman("manifest", "create", "test:1.0", env=env)
    assert r.returncode == 0, r.stderr
    list_id = r.stdout.strip()
    assert len(list_id) == 64 and list_id != image_id
    ids = run_pyman("images", "--format", "{{.ID}}", "--no-trunc", env=env).stdout.split()
    assert f"sha256:{image_id}" in ids and f"sha256:{list_id}" in ids
    names = run_pyman("images", "--format", "{{.Repository}}:{{.Tag}}", env=env).stdout.split()
    assert "localhost/test:1.0" in names
    doc = json.loads(run_pyman("manifest", "inspect", "test:1.0", env=env).stdout)
    assert doc == {"schemaVersion": 2, "manifests": None,
                   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json"}
    assert run_pyman("manifest", "exists", "test:1.0", env=env).returncode == 0
    assert run_pyman("manifest", "exists", "alpine", env=env).returncode == 1  # an image
    r = run_pyman("manifest", "create", "test:1.0", env=env)
    assert r.returncode == 125 and r.stderr == (
        'Error: creating image to hold manifest list: image name "localhost/test:1.0" is '
        f'already associated with image "{list_id}": that name is already in use\n')
    # it holds no image of its own: Podman's words wherever one is needed
    for argv in (("image", "inspect", "test:1.0"), ("create", "test:1.0"),
                 ("save", "-o", "/dev/null", "test:1.0")):
        r = run_pyman(*argv, env=env)
        assert r.returncode == 125 and "no image found in manifest list for architecture" \
            in r.stderr, (argv, r.stderr)
    r = run_pyman("rmi", "test:1.0", env=env)
    assert r.stdout.splitlines() == ["Untagged: localhost/test:1.0", f"Deleted: {list_id}"]
    assert run_pyman("manifest", "exists", "test:1.0", env=env).returncode == 1


def test_add_remove_entries_and_rm(run_pyman, fresh_env) -> None:
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    repo_digests = run_pyman("inspect", "--format", "{{.RepoDigests}}", image_id,
                             env=env).stdout
    list_id = run_pyman("manifest", "create", "ml", "alpine", env=env).stdout.strip()
    doc = json.loads(run_pyman("manifest", "inspect", "ml", env=env).stdout)
    [entry] = doc["manifests"]
    digest = entry["digest"]  # the image's own manifest (it was pulled through an index)
    assert f"@{digest}" in repo_digests and entry["platform"] == {"architecture": "amd64",
                                                               "os": "linux"}
    assert entry["size"] > 0 and entry["mediaType"].endswith("json")
    # again, overridden: the entry is replaced, not doubled
    r = run_pyman("manifest", "add", "--arch", "arm64", "--variant", "v8", "--annotation",
                  "k=v", "ml", "alpine", env=env)
    assert (r.returncode, r.stdout.strip()) == (0, list_id), r.stderr
    [entry] = json.loads(run_pyman("manifest", "inspect", "ml", env=env).stdout)["manifests"]
    assert entry["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    assert entry["annotations"] == {"k": "v"}
    r = run_pyman("manifest", "add", "ml", "no-such-image", env=env)
    assert r.returncode == 125 and "no-such-image: image not known" in r.stderr
    r = run_pyman("manifest", "remove", "ml", digest, env=env)
    assert (r.returncode, r.stdout.strip()) == (0, list_id), r.stderr
    assert json.loads(run_pyman("manifest", "inspect", "ml", env=env).stdout)["manifests"] is None
    r = run_pyman("manifest", "rm", "ml", env=env)
    assert r.stdout.splitlines() == ["Untagged: localhost/ml:latest", f"Deleted: {list_id}"]
    r = run_pyman("manifest", "rm", "ml", env=env)
    assert (r.returncode, r.stderr) == (1, "Error: ml: image not known\n")
    assert run_pyman("image", "exists", image_id, env=env).returncode == 0  # never the image
    r = run_pyman("manifest", "rm", "alpine", env=env)
    assert r.returncode == 125 and "not a manifest list" in r.stderr
