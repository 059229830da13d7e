"""pyman secret create|ls|inspect|rm and run --secret (mount and env, uid/gid/mode, target,
with --userns=auto), in Podman's shapes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from lifecycle_util import NET


def test_secret_commands_and_run(run_pyman, pyman_env, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("s3cr3t\n")
    r = run_pyman("secret", "create", "sc-one", str(data))
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    assert len(sid) == 25 and all(c in "0123456789abcdef" for c in sid)
    r = run_pyman("secret", "create", "sc-one", str(data))
    assert (r.returncode, r.stderr) == (125, "Error: sc-one: secret name in use\n")
    assert run_pyman("secret", "create", "sc-two", "-", input="from stdin").returncode == 0
    ls = run_pyman("secret", "ls").stdout.splitlines()
    assert ls[0].split() == ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]
    assert any(line.startswith(f"{sid}  sc-one") for line in ls[1:])
    assert set(run_pyman("secret", "ls", "-q").stdout.split()) >= {sid}
    doc = json.loads(run_pyman("secret", "inspect", "sc-one").stdout)[0]
    assert (doc["ID"], doc["Spec"]["Name"], doc["Spec"]["Driver"]["Name"]) == (
        sid, "sc-one", "file")
    store = Path(doc["Spec"]["Driver"]["Options"]["path"]) / sid
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600

    r = run_pyman("run", "--rm", *NET, "--secret", "sc-one", "--secret",
                  "source=sc-two,type=env,target=FROM_ENV", "alpine", "sh", "-c",
                  "stat -c '%a %u %g' /run/secrets/sc-one; cat /run/secrets/sc-one; "
                  "echo $FROM_ENV; touch /run/secrets/sc-one 2>/dev/null || echo ro")
    assert r.stdout == "444 0 0\ns3cr3t\nfrom stdin\nro\n", r.stderr
    r = run_pyman("run", "--rm", *NET, "--secret", "sc-one,target=/etc/x,uid=7,gid=8,"
                  "mode=0400", "alpine", "stat", "-c", "%a %u %g", "/etc/x")
    assert r.stdout == "400 7 8\n", r.stderr
    r = run_pyman("run", "--rm", *NET, "--secret=sc-one", "--userns=auto:size=1000",
                  "alpine", "cat", "/run/secrets/sc-one")
    assert r.stdout == "s3cr3t\n", r.stderr
    r = run_pyman("create", "--name", "sc-c", *NET, "--secret", "sc-two,type=env,target=V",
                  "alpine", "true")
    assert r.returncode == 0, r.stderr
    doc = json.loads(run_pyman("inspect", "sc-c").stdout)[0]
    assert not any("from stdin" in e for e in doc["Config"]["Env"])  # never recorded
    assert run_pyman("rm", "sc-c").returncode == 0

    for spec, message in (("nosuch", 'no secret with name or id "nosuch": no such secret'),
                          ("sc-one,type=env,uid=1", "cannot be set with secret type env"),
                          ("sc-one,bogus=1", "invalid secret option 'bogus=1'")):
        r = run_pyman("run", "--rm", *NET, "--secret", spec, "alpine", "true")
        assert r.returncode == 125 and message in r.stderr, (spec, r.stderr)
    assert run_pyman("secret", "create", "bad/name", str(data)).returncode == 125
    assert run_pyman("secret", "create", "empty", "/dev/null").returncode == 125

    assert run_pyman("secret", "rm", "sc-one").stdout == f"{sid}\n"
    r = run_pyman("secret", "rm", "sc-one")
    assert (r.returncode, r.stderr) == (125, 'Error: no secret with name or id "sc-one": no '
                                        "such secret\n")
    assert run_pyman("secret", "rm", "-a").returncode == 0
    assert run_pyman("secret", "ls", "-q").stdout == ""
    assert not store.exists()
    assert run_pyman("ps", "-aq").stdout == ""
