"""What Podman's own system tests (test/system, v4.3.1) ask of the commands pyman has: global
options that move the store, ps --noheading/--sort/--external, start --all/--filter, rmi's
untag-or-delete rules, run --pod new:, inspect's ImageName/ImageDigest, --noout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lifecycle_util import NET


def test_root_runroot_driver_and_volumepath_move_the_store(run_pyman, fresh_env,
                                                           tmp_path: Path) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    root, run, vols = tmp_path / "root", tmp_path / "run", tmp_path / "vols"
    opts = ["--storage-driver=vfs", "--root", str(root), "--runroot", str(run),
            "--volumepath", str(vols)]
    r = run_pyman(*opts, "images", "--noheading", env=env)
    assert (r.returncode, r.stdout) == (0, ""), r.stderr  # the other store is empty
    r = run_pyman(*opts, "info", "--format",
                  "{{.Store.GraphRoot}} {{.Store.RunRoot}} {{.Store.GraphDriverName}} "
                  "{{.Store.VolumePath}} {{.Store.GraphOptions}}", env=env)
    assert r.stdout.split() == [str(root / "pyman"), str(run / "pyman"), "vfs", str(vols),
                                "map[]"], r.stderr
    assert run_pyman(*opts, "volume", "create", "v1", env=env).returncode == 0
    assert (vols / "v1").is_dir()
    # the default store still has its image; the other one never saw it
    assert run_pyman("images", "-q", env=env).stdout.strip()
    r = run_pyman("--noout", "volume", "create", "v2", env=env)  # Podman's --noout
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    assert run_pyman("volume", "exists", "v2", env=env).returncode == 0


def test_ps_noheading_sort_external_and_start_all_filter(run_pyman, fresh_env) -> None:
    env = fresh_env
    for name, cmd in (("c-true", "true"), ("a-false", "false"), ("b-true", "true")):
        r = run_pyman("run", *NET, "--name", name, "alpine", cmd, env=env)
        assert r.returncode in (0, 1), r.stderr
    r = run_pyman("ps", "-a", "--external", "--noheading", "--sort", "names",
                  "--format", "{{.Names}}", env=env)
    assert r.stdout.split() == ["a-false", "b-true", "c-true"], r.stderr
    # created sorts oldest first; the default lists newest first
    r = run_pyman("ps", "-a", "--sort", "created", "--format", "{{.Names}}", env=env)
    assert r.stdout.split() == ["c-true", "a-false", "b-true"]
    assert run_pyman("ps", "-a", "--format", "{{.Names}}", env=env).stdout.split() \
        == ["b-true", "a-false", "c-true"]
    rows = run_pyman("ps", "-a", "--noheading", env=env).stdout.splitlines()
    assert len(rows) == 3 and not rows[0].startswith("CONTAINER ID")
    # a name filter does not look past the running ones without -a; a status filter does
    assert run_pyman("ps", "--filter", "name=c-true", "-q", env=env).stdout == ""
    r = run_pyman("ps", "--filter", "status=stopped", "--sort", "names", "--format",
                  "{{.Names}}", env=env)
    assert r.stdout.split() == ["a-false", "b-true", "c-true"]
    bad = run_pyman("ps", "--sort", "bogus", env=env)
    assert bad.returncode == 125 and "invalid option for --sort" in bad.stderr

    r = run_pyman("start", "--all", "c-true", env=env)
    assert (r.returncode, r.stderr) == (
        125, "Error: either start all containers or the container(s) provided in the "
             "arguments\n")
    r = run_pyman("start", "--filter", "restart-policy=always", "c-true", env=env)
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = run_pyman("start", "--filter", "restart-policy=fakepolicy", "c-true", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: fakepolicy invalid restart policy\n")
    r = run_pyman("start", "--all", "--filter", "exited=1", env=env)
    ids = run_pyman("ps", "-aq", "--no-trunc", "--filter", "name=a-false", env=env).stdout
    assert (r.returncode, r.stdout) == (0, ids), r.stderr
    # rm --force of a missing container, pod or volume is no error; pod rm --all on nothing
    for what in ([], ["pod"], ["volume"]):
        r = run_pyman(*what, "rm", "bogus", env=env)
        assert r.returncode == 1 and "no such" in r.stderr
        r = run_pyman(*what, "rm", "--force", "bogus", env=env)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), what
    r = run_pyman("pod", "rm", "-t", "0", "--all", "--force", "--ignore", env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_rmi_untags_by_name_and_reports_podmans_errors(run_pyman, fresh_env) -> None:
    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    assert run_pyman("tag", "alpine", "a.b/c:d", env=env).returncode == 0
    r = run_pyman("rmi", "--force", "a.b/c:d", env=env)  # by one of two names: untag only
    assert (r.returncode, r.stdout) == (0, "Untagged: a.b/c:d\n"), r.stderr
    assert run_pyman("image", "exists", image_id, env=env).returncode == 0
    assert run_pyman("images", "-q", "--no-trunc", env=env).stdout == f"sha256:{image_id}\n"
    for key in ("after", "since", "before"):  # after: Podman's other spelling of since
        r = run_pyman("images", "--noheading", f"--filter={key}={image_id}", env=env)
        assert (r.returncode, r.stdout) == (0, ""), r.stderr
    assert run_pyman("tag", "alpine", "a.b/c:d", env=env).returncode == 0
    r = run_pyman("rmi", image_id, env=env)  # by id with two names: --force needed
    assert r.returncode == 125 and "by ID with more than one tag" in r.stderr
    r = run_pyman("untag", "alpine", "registry.com/foo:bar", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: registry.com/foo:bar: tag not known\n")
    r = run_pyman("rmi", "nosuchimage", env=env)
    assert (r.returncode, r.stderr) == (1, "Error: nosuchimage: image not known\n")
    for flag in ("--ignore", "--force"):
        r = run_pyman("rmi", flag, "nosuchimage", env=env)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = run_pyman("run", "--pull=never", "nosuchimage", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: nosuchimage: image not known\n")
    r = run_pyman("rmi", "-a", env=env)
    assert r.returncode == 0, r.stderr
    assert (run_pyman("rmi", "-a", env=env).returncode, run_pyman("images", "-q", env=env)
            .stdout) == (0, "")


def test_pod_new_and_inspect_image_name_and_digest(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    assert run_pyman("tag", "alpine", "mytag", env=env).returncode == 0
    r = run_pyman("create", "--pod", "new:newpod", "--name", "member", "mytag", "true",
                  env=env)
    assert r.returncode == 0, r.stderr
    pod = json.loads(run_pyman("pod", "inspect", "newpod", env=env).stdout)
    assert pod["Name"] == "newpod"
    doc = json.loads(run_pyman("container", "inspect", "member", env=env).stdout)[0]
    assert doc["Pod"] == pod["Id"]
    digest = run_pyman("image", "inspect", "--format", "{{.Digest}}", "alpine", env=env)
    assert doc["ImageName"] == "localhost/mytag:latest"  # the name it was created from
    assert doc["ImageDigest"] == digest.stdout.strip()
    # {{.ID}} and {{.Id}} alike; the last --format wins
    r = run_pyman("inspect", "--format", "{{.XYZ}}", "--format", "{{.ID}}", "member", env=env)
    assert (r.returncode, r.stdout.strip()) == (0, doc["Id"]), r.stderr
    # a failed create does not leave the pod it made
    r = run_pyman("create", "--pod", "new:gone", "--pull=never", "nosuchimage", env=env)
    assert r.returncode == 125
    assert run_pyman("pod", "exists", "gone", env=env).returncode == 1


def test_run_unsetenv_and_rmi(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0

    def printenv(*flags: str) -> list[str]:
        r = run_pyman("run", "--rm", *NET, *flags, "alpine", "/bin/env", env=env)
        assert r.returncode == 0, r.stderr
        return [line.split("=", 1)[0] for line in r.stdout.splitlines()]

    assert {"TERM", "container", "PATH"} <= set(printenv())
    keys = printenv("--unsetenv=TERM")
    assert "TERM" not in keys and "container" in keys
    keys = printenv("--unsetenv-all")
    assert not {"TERM", "container", "PATH"} & set(keys)
    r = run_pyman("run", "--rm", *NET, "--unsetenv-all", "-e", "TERM=abc", "alpine",
                  "/bin/sh", "-c", "echo $TERM", env=env)
    assert r.stdout == "abc\n"
    # --rmi: the image stays while another container uses it, and goes after the last
    assert run_pyman("create", "--name", "keepme", "alpine", env=env).returncode == 0
    r = run_pyman("run", "--rmi", *NET, "alpine", "true", env=env)
    assert r.returncode == 0 and "in use" in r.stderr
    assert run_pyman("image", "exists", "alpine", env=env).returncode == 0
    assert run_pyman("rm", "keepme", env=env).returncode == 0
    r = run_pyman("run", "--rmi", *NET, "alpine", "true", env=env)
    assert (r.returncode, r.stderr) == (0, "")
    assert run_pyman("image", "exists", "alpine", env=env).returncode == 1
    assert run_pyman("ps", "-aq", env=env).stdout == ""
    r = run_pyman("run", "--rm", *NET, "--kernel-memory", "100", "alpine", "false", env=env)
    assert r.returncode == 1
    assert "The --kernel-memory flag is no longer supported. This flag is a noop." in r.stderr
    r = run_pyman("create", "--rmi", "alpine", env=env)
    assert r.returncode == 125 and "unknown flag: --rmi" in r.stderr


def test_stop_shows_stopping_while_it_waits(run_pyman, fresh_env, pyman_bin) -> None:
    import subprocess
    import time

    env = fresh_env
    r = run_pyman("run", "-d", *NET, "--name", "stopme", "alpine", "sh", "-c",
                  "trap 'echo ignoring' TERM; echo READY; while :; do sleep 0.1; done", env=env)
    assert r.returncode == 0, r.stderr
    stop = subprocess.Popen([str(pyman_bin), "stop", "--timeout", "20", "stopme"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while "ignoring" not in run_pyman("logs", "stopme", env=env).stdout:
            assert time.monotonic() < deadline, "the container never saw SIGTERM"
            time.sleep(0.1)
        r = run_pyman("inspect", "--format", "{{.State.Status}} {{.State.Running}}",
                      "stopme", env=env)
        assert r.stdout.split() == ["stopping", "false"], r.stderr
    finally:
        assert run_pyman("kill", "stopme", env=env).returncode == 0
        stop.wait(30)
    r = run_pyman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "stopme",
                  env=env)
    assert r.stdout.split() == ["exited", "137"]


def test_rm_refuses_a_container_others_depend_on_unless_depend(run_pyman, fresh_env) -> None:
    env = fresh_env
    base = run_pyman("create", *NET, "alpine", env=env).stdout.strip()
    dep = run_pyman("create", f"--network=container:{base}", "alpine", env=env).stdout.strip()
    assert base and dep
    r = run_pyman("rm", base, env=env)
    assert r.returncode == 125
    assert r.stderr == (f"Error: container {base} has dependent containers which must be "
                        f"removed before it: {dep}: container already exists\n")
    r = run_pyman("rm", "--depend", base, env=env)
    assert (r.returncode, r.stdout.split()) == (0, [dep, base]), r.stderr
    # --all takes the dependents first, whatever the order of creation
    base = run_pyman("create", *NET, "alpine", env=env).stdout.strip()
    run_pyman("create", f"--network=container:{base}", "alpine", env=env)
    r = run_pyman("rm", "-a", env=env)
    assert (r.returncode, len(r.stdout.split())) == (0, 2), r.stderr
    assert run_pyman("ps", "-aq", env=env).stdout == ""


def test_wait_condition(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("run", *NET, "--name", "done", "alpine", "sh", "-c", "exit 3",
                     env=env).returncode == 3
    r = run_pyman("container", "wait", "--condition=exited", "--condition=stopped", "done",
                  env=env)
    assert (r.returncode, r.stdout) == (0, "3\n"), r.stderr
    assert run_pyman("create", *NET, "--name", "new", "alpine", "sleep", "30",
                     env=env).returncode == 0
    assert run_pyman("wait", "--condition=created", "new", env=env).stdout == "0\n"
    assert run_pyman("start", "new", env=env).returncode == 0
    r = run_pyman("wait", "--condition", "running", "new", env=env, timeout=20)
    assert (r.returncode, r.stdout) == (0, "0\n"), r.stderr
    r = run_pyman("wait", "--condition", "bogus", "new", env=env)
    assert r.returncode == 125 and "bogus is not a valid condition" in r.stderr


def test_commit_adds_the_containers_changes_as_a_layer(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    script = ("echo new > /new.txt; rm /etc/os-release; mkdir -p /opaque; echo x > /opaque/f; "
              "rm -rf /var; mkdir /var; echo y > /var/only")
    r = run_pyman("run", *NET, "--name", "src", "-e", "FOO=bar", "alpine", "sh", "-c", script,
                  env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("commit", "-q", "-f", "docker", "-c", "CMD [\"cat\", \"/new.txt\"]", "-m",
                  "hello", "src", "committed", env=env)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert len(image_id) == 64 and r.stderr == ""
    base = json.loads(run_pyman("image", "inspect", "alpine", env=env).stdout)[0]
    doc = json.loads(run_pyman("image", "inspect", "committed", env=env).stdout)[0]
    assert doc["Id"] == image_id
    assert doc["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(doc["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert "FOO=bar" in doc["Config"]["Env"] and doc["Config"]["Cmd"] == ["cat", "/new.txt"]
    r = run_pyman("run", "--rm", *NET, "committed", env=env)
    assert (r.returncode, r.stdout) == (0, "new\n"), r.stderr
    # the removed file stays removed (a whiteout), the recreated dir hides the old content
    r = run_pyman("run", "--rm", *NET, "committed", "sh", "-c",
                  "test ! -e /etc/os-release && ls /var && cat /opaque/f", env=env)
    assert (r.returncode, r.stdout) == (0, "only\nx\n"), r.stderr
    r = run_pyman("commit", "nosuch", "x", env=env)
    assert r.returncode == 125 and "no such container" in r.stderr


def test_ipc_modes(run_pyman, fresh_env) -> None:
    import os

    env = fresh_env
    host_ipc = os.readlink("/proc/self/ns/ipc")

    def ipc_ns(*flags: str) -> subprocess.CompletedProcess[str]:
        return run_pyman("run", "--rm", *NET, *flags, "alpine", "readlink", "/proc/self/ns/ipc",
                         env=env)

    r = ipc_ns("--ipc=host")
    assert (r.returncode, r.stdout.strip()) == (0, host_ipc), r.stderr
    r = ipc_ns("--ipc=none")
    assert r.returncode == 0 and r.stdout.strip() not in ("", host_ipc), r.stderr
    r = run_pyman("run", "--rm", *NET, "--ipc=none", "alpine", "ls", "/dev/shm", env=env)
    assert (r.returncode, r.stdout) == (1, "") and "No such file" in r.stderr
    for mode in ("shareable", "private"):
        r = run_pyman("run", "-d", *NET, f"--ipc={mode}", "--name", mode, "alpine", "sleep", "60",
                      env=env)
        assert r.returncode == 0, r.stderr
    donor = run_pyman("exec", "shareable", "readlink", "/proc/self/ns/ipc", env=env).stdout
    r = ipc_ns("--ipc=container:shareable")
    assert (r.returncode, r.stdout) == (0, donor), r.stderr
    # with a network of its own (the default, not none): its helper still runs
    r = run_pyman("run", "--rm", "--ipc=container:shareable", "alpine", "readlink",
                  "/proc/self/ns/ipc", env=env)
    assert (r.returncode, r.stdout) == (0, donor), r.stderr
    r = ipc_ns("--ipc=container:private")
    assert r.returncode == 125
    assert "is not allowed: non-shareable IPC (hint: use IpcMode:shareable for the donor " \
           "container)" in r.stderr
    assert ipc_ns("--ipc=bogus").returncode == 125
    r = run_pyman("inspect", "--format", "{{.HostConfig.IpcMode}}", "private", env=env)
    assert r.stdout.strip() == "private"


def test_pod_create_forms_and_rm_depend_of_the_infra(run_pyman, fresh_env) -> None:
    env = fresh_env
    for alias in ("ps", "ls", "list"):
        r = run_pyman("pod", alias, "--noheading", env=env)
        assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = run_pyman("pod", "create", "--share", "bogus", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: invalid kernel namespace to share: bogus. "
                                              "Options are: cgroup, ipc, net, pid, uts or none\n")
    r = run_pyman("pod", "create", "--infra=true", "--share", "ipc", "--network", "private",
                  "named", env=env)  # NAME as an argument, as Podman 4.3 takes it
    assert r.returncode == 0, r.stderr
    r = run_pyman("pod", "inspect", "named", "--format", "{{.SharedNamespaces}}", env=env)
    assert r.stdout.strip() == "[ipc]"
    r = run_pyman("run", "--rm", *NET, "--pod", "new:hostpod", "--hostname", "foobar", "alpine",
                  "hostname", env=env)
    assert (r.returncode, r.stdout) == (0, "foobar\n"), r.stderr
    member = run_pyman("create", "--pod", "named", "alpine", env=env).stdout.strip()
    infra = run_pyman("pod", "inspect", "named", "--format", "{{.InfraContainerID}}",
                      env=env).stdout.strip()
    pod_id = run_pyman("pod", "inspect", "named", "--format", "{{.Id}}", env=env).stdout
    assert run_pyman("ps", "-a", "--filter", f"id={member}", "--format", "{{.Pod}}",
                     env=env).stdout.strip() == pod_id.strip()[:12]
    r = run_pyman("rm", "--force", infra, env=env)
    assert r.returncode == 125 and "cannot be removed without removing the pod" in r.stderr
    r = run_pyman("rm", "--depend", infra, env=env)
    assert (r.returncode, r.stdout.split()) == (0, [member, infra]), r.stderr
    assert run_pyman("pod", "exists", "named", env=env).returncode == 1


def test_pod_kill_and_start_failure_code(run_pyman, fresh_env) -> None:
    env = fresh_env
    r = run_pyman("pod", "kill", "-s", "0", "nosuchpod", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: invalid signal: 0\n")
    assert run_pyman("pod", "create", "--name", "kp", env=env).returncode == 0
    r = run_pyman("run", "-d", "--pod", "kp", "alpine", "sleep", "60", env=env)
    assert r.returncode == 0, r.stderr
    member = r.stdout.strip()
    r = run_pyman("pod", "kill", "kp", env=env)
    assert r.returncode == 0, r.stderr
    assert run_pyman("wait", member, env=env).stdout == "137\n"
    # a start that fails is an engine error (125), a run that does is the command's (127)
    assert run_pyman("create", "--name", "nocmd", *NET, "alpine", "/no/such/command",
                     env=env).returncode == 0
    assert run_pyman("start", "nocmd", env=env).returncode == 125
    assert run_pyman("run", "--rm", *NET, "alpine", "/no/such/command", env=env).returncode == 127


def test_image_group_has_save_load_and_podmans_load_error(run_pyman, fresh_env,
                                                          tmp_path: Path) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    archive = tmp_path / "a.tar"
    r = run_pyman("image", "save", "-o", str(archive), "alpine", env=env)
    assert r.returncode == 0, r.stderr
    assert run_pyman("rmi", "alpine", env=env).returncode == 0
    r = run_pyman("image", "load", "-i", str(archive), env=env)
    assert r.returncode == 0 and "alpine" in r.stdout, r.stderr
    bad = tmp_path / "invalid"
    bad.write_text("I am not an image\n")
    r = run_pyman("load", "-i", str(bad), env=env)
    assert r.returncode == 125
    assert "payload does not match any of the supported image formats:" in r.stderr


def test_run_tz(run_pyman, fresh_env) -> None:
    env = fresh_env
    stamp = ["date", "-d", "@1600000000"]
    r = run_pyman("run", "--rm", *NET, "alpine", *stamp, env=env)
    assert r.stdout == "Sun Sep 13 12:26:40 UTC 2020\n", r.stderr
    r = run_pyman("run", "--rm", *NET, "--tz=US/Eastern", "--tz=MST7MDT", "alpine", *stamp,
                  env=env)  # the last one wins
    assert r.stdout == "Sun Sep 13 06:26:40 MDT 2020\n", r.stderr
    r = run_pyman("run", "--rm", *NET, "--tz=Nowhere/Atall", "alpine", "true", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: finding timezone: unknown time zone "
                                             "Nowhere/Atall\n")


def test_group_add(run_pyman, fresh_env) -> None:
    env = fresh_env
    r = run_pyman("run", "--rm", *NET, "--group-add", "457", "--group-add", "tester", "alpine",
                  "id", "-G", env=env)
    assert r.returncode == 0, r.stderr
    assert {"457", "1000"} <= set(r.stdout.split())  # tester is gid 1000 in the image
    r = run_pyman("run", "--rm", *NET, "--group-add", "keep-groups", "--group-add", "457",
                  "alpine", "id", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: the '--group-add keep-groups' option is "
                                             "not allowed with any other --group-add options\n")


def test_info_templates(run_pyman, fresh_env) -> None:
    env = fresh_env
    r = run_pyman("--cgroup-manager=cgroupfs", "--events-backend=file", "info", "--format",
                  "{{.Host.CgroupManager}} {{.Host.EventLogger}} {{.Host.OCIRuntime.Name}} "
                  "{{.Host.Security.Rootless}} {{.Host.Distribution.Distribution}}", env=env)
    assert r.returncode == 0, r.stderr
    words = r.stdout.split()
    assert words[:2] == ["cgroupfs", "file"] and words[3] == "true" and words[2] and words[4]
    r = run_pyman("info", "-f", "", env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = run_pyman("--log-level=debug", "info", "-f", "", env=env)
    assert ' level=debug msg="' in r.stderr and ' level=info msg="' in r.stderr


def test_systemd_mode(run_pyman, fresh_env) -> None:
    env = fresh_env
    r = run_pyman("run", *NET, "--systemd=always", "--name", "sd", "alpine", "sh", "-c",
                  "echo $container_uuid; mount | grep -c ' on /run/lock type tmpfs'",
                  env=env)
    assert r.returncode == 0, r.stderr
    cid = run_pyman("inspect", "--format", "{{.ID}}", "sd", env=env).stdout.strip()
    assert r.stdout.split() == [cid[:32], "1"]
    assert run_pyman("inspect", "--format", "{{.Config.StopSignal}}", "sd",
                     env=env).stdout.strip() in ("37", "SIGRTMIN+3")
    r = run_pyman("run", "--rm", *NET, "alpine", "sh", "-c", "echo x${container_uuid}x",
                  env=env)
    assert r.stdout == "xx\n"  # not an init: no systemd mode
    assert run_pyman("run", "--rm", "--systemd=bogus", "alpine", env=env).returncode == 125


def test_load_from_url(run_pyman, fresh_env, tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    assert run_pyman("save", "-o", str(tmp_path / "image.tar"), "alpine",
                     env=env).returncode == 0
    assert run_pyman("rmi", "alpine", env=env).returncode == 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        r = run_pyman("load", "-i", f"{base}/image.tar", env=env)
        assert r.returncode == 0 and "alpine" in r.stdout, r.stderr
        r = run_pyman("load", "-i", f"{base}/missing.tar", env=env)
        assert r.returncode == 125 and r.stderr.startswith(f"Error: downloading {base}/missing")
    finally:
        server.shutdown()


def test_diff(run_pyman, fresh_env) -> None:
    env = fresh_env
    r = run_pyman("run", *NET, "--name", "df", "alpine", "sh", "-c",
                  "touch /newfile; rm /etc/os-release", env=env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("diff", "--format", "json", "-l", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"changed": ["/etc"], "added": ["/newfile"],
                                    "deleted": ["/etc/os-release"]}
    r = run_pyman("diff", "df", env=env)
    assert r.stdout == "C /etc\nD /etc/os-release\nA /newfile\n"
    cid = run_pyman("inspect", "--format", "{{.Id}}", "df", env=env).stdout
    r = run_pyman("rm", "-l", env=env)  # the last created
    assert (r.returncode, r.stdout) == (0, cid), r.stderr
    r = run_pyman("diff", "-l", "df", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: --latest and containers cannot be used "
                                             "together\n")


def test_system_df(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    r = run_pyman("system", "df", env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].split()[:3] == ["Images", "1", "0"]
    assert lines[2].split()[:3] == ["Containers", "0", "0"]
    assert lines[3].split()[:5] == ["Local", "Volumes", "0", "0", "0B"]
    assert run_pyman("run", *NET, "-v", "/myvol1", "--name", "c1", "alpine", "sh", "-c",
                     "head -c 2000 /dev/zero > /myvol1/f", env=env).returncode == 0
    r = run_pyman("system", "df", "--format", "{{ .Type }}:{{ .Total }}:{{ .Active }}",
                  env=env)
    assert r.stdout.splitlines() == ["Images:1:1", "Containers:1:0", "Local Volumes:1:1"]
    r = run_pyman("system", "df", "-v", env=env)
    text = [ln for ln in r.stdout.splitlines() if ln]
    assert text[0] == "Images space usage:" and text[2].endswith(" 1")
    assert text[3] == "Containers space usage:" and text[5].endswith(" c1")
    assert text[6] == "Local Volumes space usage:"
    name, links, size = text[8].split()
    assert (len(name), links, size) == (64, "1", "2kB")


def test_pod_rm_stops_a_running_infra_and_pod_members_with_own_network(run_pyman,
                                                                      fresh_env) -> None:
    env = fresh_env
    r = run_pyman("run", "--rm", "--pod", "new:pinfra", "alpine", "true", env=env)
    assert r.returncode == 0, r.stderr
    running = run_pyman("ps", "-q", "--filter", "status=running", env=env).stdout.split()
    assert len(running) == 1  # the infra runs on
    r = run_pyman("pod", "rm", "pinfra", env=env)  # the infra alone needs no --force
    assert r.returncode == 0, r.stderr
    assert run_pyman("ps", "-aq", env=env).stdout == ""
    # a pod sharing only ipc: its members have networks of their own
    assert run_pyman("pod", "create", "--share", "ipc", "--name", "ipcpod",
                     env=env).returncode == 0
    r = run_pyman("run", "--rm", "--pod", "ipcpod", "--hostname", "foobar", "alpine",
                  "hostname", env=env)
    assert (r.returncode, r.stdout) == (0, "foobar\n"), r.stderr
    r = run_pyman("run", "-d", "--pod", "ipcpod", "alpine", "sleep", "60", env=env)
    r = run_pyman("pod", "rm", "ipcpod", env=env)
    assert r.returncode == 2 and "not ready to be removed" in r.stderr
    assert run_pyman("pod", "rm", "-f", "-t", "0", "ipcpod", env=env).returncode == 0



def test_latest_with_names_is_refused(run_pyman, fresh_env) -> None:
    """As Podman's 015-help checks for every command that has -l: -l and a name conflict."""
    env = fresh_env
    for cmd in ("attach", "inspect", "stop", "kill", "restart", "wait", "logs", "diff", "rm"):
        r = run_pyman(cmd, "-l", "nonexistent-container", env=env)
        assert (r.returncode, r.stderr) == (
            125, "Error: --latest and containers cannot be used together\n"), cmd
    r = run_pyman("stop", "--all", "--latest", env=env)
    assert (r.returncode, r.stderr) == (125, "Error: --all and --latest cannot be used "
                                             "together\n")


def test_images_history_keeps_names_gone(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    for tag in ("first", "second"):
        assert run_pyman("tag", "alpine", tag, env=env).returncode == 0
        assert run_pyman("rmi", tag, env=env).returncode == 0
    r = run_pyman("images", "alpine", "--format", "{{ .History }}", env=env)
    assert r.stdout == ("docker.io/library/alpine:latest, localhost/second:latest, "
                        "localhost/first:latest\n")
    doc = json.loads(run_pyman("image", "inspect", "alpine", env=env).stdout)[0]
    assert doc["NamesHistory"][1:] == ["localhost/second:latest", "localhost/first:latest"]


def test_pod_share_pid(run_pyman, fresh_env) -> None:
    env = fresh_env
    assert run_pyman("pod", "create", "--share", "+pid", "--name", "pidpod",
                     env=env).returncode == 0
    r = run_pyman("pod", "inspect", "pidpod", "--format", "{{.SharedNamespaces}}", env=env)
    assert r.stdout.strip() == "[ipc net uts pid]"
    r = run_pyman("run", "--rm", "--pod", "pidpod", "alpine", "ps", "-o", "comm", env=env)
    assert r.returncode == 0 and "catatonit" in r.stdout, r.stderr  # the infra's init is seen
    r = run_pyman("pod", "create", "--share", "cgroup", env=env)
    assert r.returncode == 125 and "pyman pods can share ipc, net, uts, pid" in r.stderr


def test_save_oci_uncompressed_loads_back(run_pyman, fresh_env, tmp_path: Path) -> None:
    import tarfile

    env = fresh_env
    image_id = run_pyman("pull", "-q", "alpine", env=env).stdout.strip()
    archive = tmp_path / "oci.tar"
    r = run_pyman("save", "-o", str(archive), "--format", "oci-archive", "--uncompressed",
                  "alpine", env=env)
    assert r.returncode == 0, r.stderr
    with tarfile.open(archive) as tf:
        index = json.load(tf.extractfile("index.json"))  # type: ignore[arg-type]
        digest = index["manifests"][0]["digest"]
        manifest = json.load(tf.extractfile(f"blobs/sha256/{digest[7:]}"))  # type: ignore[arg-type]
        for layer in manifest["layers"]:
            assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
            head = tf.extractfile(f"blobs/sha256/{layer['digest'][7:]}").read(512)  # type: ignore[union-attr]
            assert head[257:262] == b"ustar"  # a plain tar, not gzip
    assert run_pyman("rmi", "alpine", env=env).returncode == 0
    r = run_pyman("load", "-i", str(archive), env=env)
    assert r.returncode == 0, r.stderr
    assert run_pyman("image", "exists", image_id, env=env).returncode == 0



def test_volume_copy_up_waits_for_content(run_pyman, fresh_env) -> None:
    """As libpod: a first use where the image has nothing at the destination leaves the
    copy-up to a later container; the owner is fixed at the first use."""
    env = fresh_env
    assert run_pyman("volume", "create", "cv", env=env).returncode == 0

    def flags() -> str:
        return run_pyman("volume", "inspect", "--format", "{{ .NeedsCopyUp }} {{ .NeedsChown }}",
                         "cv", env=env).stdout.strip()

    assert flags() == "true true"
    assert run_pyman("run", "--rm", *NET, "-v", "cv:/nothing-here", "alpine", "true",
                     env=env).returncode == 0
    assert flags() == "true false"
    r = run_pyman("run", "--rm", *NET, "-v", "cv:/etc", "alpine", "ls", "/etc/passwd", env=env)
    assert r.returncode == 0, r.stderr
    assert flags() == "false false"
