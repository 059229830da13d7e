"""The Quadlet generator's pieces: unit file syntax, word splitting, conversions, errors that
name the file and line, and what lands in the output dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyman.quadlet.__main__ import run
from pyman.quadlet.generate import convert_all, find_files, search_dirs, write_units
from pyman.quadlet.unitfile import QuadletError, parse
from pyman.quadlet.words import quote_cmdline, split

PYMAN = "/opt/pyman/bin/pyman"


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text)
    return p


def convert(d: Path, user: bool = True):
    return convert_all(find_files([str(d)]), user, PYMAN)


def test_parse_keeps_lines_comments_and_continuations() -> None:
    u = parse("# top\n[Container]\nImage=alpine\n; note\nExec=echo \\\n  a \\\n# skipped\n"
              "  b\nLabel=\n", "x.container")
    assert u.header == ["# top"]
    assert u.lookup("Container", "Image") == "alpine"
    e = u.last("Container", "Exec")
    assert e is not None and e.line == 5 and split(e.value) == ["echo", "a", "b"]
    assert u.entries("Container", "Label") == []
    with pytest.raises(QuadletError, match=r"^y.container:2: not a key=value line"):
        parse("[Container]\nImage\n", "y.container")
    with pytest.raises(QuadletError, match=r"^y.container:1: assignment outside"):
        parse("Image=alpine\n", "y.container")


def test_words_split_and_quote_round_trip() -> None:
    assert split("""a "b c" 'd e' f\\ g h\\x41 "q\\"x" """) == [
        "a", "b c", "d e", "f g", "hA", 'q"x']
    argv = ["/bin/pyman", "run", "--env", "A=x y", "--label", 'q="1"', "%t/x", "", "a\\b"]
    assert quote_cmdline(argv) == ('/bin/pyman run --env "A=x y" --label "q=\\"1\\"" %t/x ""'
                                   ' "a\\\\b"')
    assert split(quote_cmdline(argv)) == argv
    with pytest.raises(ValueError, match="unbalanced quotes"):
        split('a "b')


def test_an_empty_value_resets_a_list() -> None:
    u = parse("[Container]\nVolume=/a:/a\nVolume=\nVolume=/b:/b\n", "x.container")
    assert [e.value for e in u.entries("Container", "Volume")] == ["/b:/b"]


def test_container_unit_text(tmp_path: Path) -> None:
    write(tmp_path, "web.container", """\
# the web server
[Unit]
Description=Web

[Container]
Image=docker.io/library/alpine:latest
ContainerName=web1
Exec=httpd -f "-p 80"
Environment=B=2 "A=x y"
Label=app=web
Volume=/srv/www:/www:ro
Volume=/cache
PublishPort=127.0.0.1:8080:80
Network=pasta
DropCapability=ALL
AddCapability=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ReadOnly=true
RunInit=true
User=100
Group=101
WorkingDir=/www
HostName=web

[Service]
Restart=always

[Install]
WantedBy=default.target
""")
    res = convert(tmp_path)
    assert res.errors == []
    assert res.units["web.service"].text() == f"""\
# the web server

[Unit]
Description=Web
SourcePath={tmp_path}/web.container
RequiresMountsFor=%t/containers
RequiresMountsFor=/srv/www

[X-Container]
Image=docker.io/library/alpine:latest
ContainerName=web1
Exec=httpd -f "-p 80"
Environment=B=2 "A=x y"
Label=app=web
Volume=/srv/www:/www:ro
Volume=/cache
PublishPort=127.0.0.1:8080:80
Network=pasta
DropCapability=ALL
AddCapability=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ReadOnly=true
RunInit=true
User=100
Group=101
WorkingDir=/www
HostName=web

[Service]
Restart=always
Environment=PODMAN_SYSTEMD_UNIT=%n
KillMode=mixed
ExecStop={PYMAN} rm -f -i --cidfile=%t/%N.cid
ExecStopPost=-{PYMAN} rm -f -i --cidfile=%t/%N.cid
ExecStopPost=-rm -f %t/%N.cid
Delegate=yes
Type=notify
NotifyAccess=all
SyslogIdentifier=%N
ExecStart={PYMAN} run --name=web1 --cidfile=%t/%N.cid --replace --rm --cgroups=split \
--network=pasta --sdnotify=conmon -d --security-opt=no-new-privileges --cap-drop=all \
--cap-add=cap_net_bind_service --read-only --init --user 100:101 -v /srv/www:/www:ro \
-v /cache --publish 127.0.0.1:8080:80 --env "A=x y" --env B=2 --label app=web \
--hostname web --workdir /www docker.io/library/alpine:latest httpd -f "-p 80"

[Install]
WantedBy=default.target
"""


def test_system_units_want_the_network_and_default_name(tmp_path: Path) -> None:
    write(tmp_path, "db.container", "[Container]\nImage=alpine\nNotify=true\n")
    text = convert(tmp_path, user=False).units["db.service"].text()
    assert text.startswith("[X-Container]\nImage=alpine\nNotify=true\n\n[Unit]\n"
                           "Wants=network-online.target\nAfter=network-online.target\n")
    assert " run --name=systemd-%N " in text and " --sdnotify=container -d alpine\n" in text
    write(tmp_path, "t@.container", "[Container]\nImage=alpine\n")
    assert "--name=systemd-%p_%i" in convert(tmp_path).units["t@.service"].text()


def test_oneshot_container_runs_attached(tmp_path: Path) -> None:
    write(tmp_path, "job.container", "[Container]\nImage=alpine\nExec=true\n"
          "[Service]\nType=oneshot\n")
    text = convert(tmp_path).units["job.service"].text()
    assert "-d" not in text.split() and "--sdnotify" not in text and "NotifyAccess" not in text


def test_volume_unit_and_a_container_using_it(tmp_path: Path) -> None:
    write(tmp_path, "data.volume", "[Volume]\nUser=1000\nGroup=1000\nLabel=k=v\n")
    write(tmp_path, "named.volume", "[Volume]\nVolumeName=shared\nDevice=/srv/d\nType=bind\n"
          "Options=bind\n")
    write(tmp_path, "app.container", "[Container]\nImage=alpine\nVolume=data.volume:/data:Z\n"
          "Mount=type=volume,source=named.volume,destination=/n\nVolume=./rel:/rel\n")
    res = convert(tmp_path)
    assert res.errors == []
    vol = res.units["data-volume.service"].text()
    assert vol.endswith(f"[Service]\nExecStart={PYMAN} volume create --ignore --opt "
                        "o=uid=1000,gid=1000 --label k=v systemd-data\nType=oneshot\n"
                        "RemainAfterExit=yes\nSyslogIdentifier=%N\n")
    named = res.units["named-volume.service"].text()
    assert (f"ExecStart={PYMAN} volume create --ignore --opt device=/srv/d --opt type=bind "
            "--opt o=bind shared\n") in named
    assert "RequiresMountsFor=/srv/d\n" in named
    app = res.units["app.service"].text()
    for line in ("Requires=data-volume.service", "After=data-volume.service",
                 "Requires=named-volume.service", f"RequiresMountsFor={tmp_path}/rel"):
        assert line + "\n" in app
    assert (" -v systemd-data:/data:Z -v " + f"{tmp_path}/rel:/rel "
            "--mount type=volume,source=shared,destination=/n alpine\n") in app


def test_pod_unit_and_its_member(tmp_path: Path) -> None:
    write(tmp_path, "app.pod", "[Pod]\nPodName=app\nPublishPort=8080:80\n")
    write(tmp_path, "web.container", "[Container]\nImage=alpine\nPod=app.pod\n")
    res = convert(tmp_path)
    assert res.errors == []
    web = res.units["web.service"].text()
    assert "BindsTo=app-pod.service\nAfter=app-pod.service\n" in web
    assert " --pod app alpine\n" in web
    pod = res.units["app-pod.service"].text()
    assert "Wants=web.service\nBefore=web.service\n" in pod
    assert pod.endswith(f"""[Service]
SyslogIdentifier=%N
ExecStart={PYMAN} pod start app
ExecStop={PYMAN} pod stop --ignore --time=10 app
ExecStopPost={PYMAN} pod rm --ignore --force app
ExecStartPre={PYMAN} pod create --infra-conmon-pidfile=%t/%N.pid --replace --publish 8080:80 \
--infra-name app-infra --name app
Environment=PODMAN_SYSTEMD_UNIT=%n
Type=forking
Restart=on-failure
PIDFile=%t/%N.pid
""")


@pytest.mark.parametrize("text,line,message", [
    ("[Container]\nImage=alpine\n\nTimezone=UTC\n", 4, "unsupported key Timezone in "
     "[Container]"),
    ("[Container]\nImage=alpine\n[Contianer]\nImage=x\n", 3, "unsupported section "
     "[Contianer]"),
    ("[Container]\nImage=alpine\nReadOnly=perhaps\n", 3, "invalid boolean 'perhaps' for "
     "ReadOnly"),
    ("[Container]\nImage=alpine\nGroup=10\n", 3, "invalid Group set without User"),
    ("[Container]\nImage=alpine\nNetwork=mynet.network\n", 3, "unsupported Network="),
    ("[Container]\nImage=alpine\nVolume=nope.volume:/x\n", 3, "nope.volume was not found"),
    ("[Container]\nImage=alpine\nPod=nope.pod\n", 3, "Pod=nope.pod: no such .pod file"),
    ("[Container]\nImage=alpine\nExec=sh -c 'x\n", 3, "Exec: unbalanced quotes"),
    ("[Container]\nImage=alpine\nEnvironment=JUSTKEY\n", 3, "'JUSTKEY' is not KEY=VALUE"),
    ("[Container]\nImage=alpine\n[Service]\nKillMode=process\n", 4, "invalid KillMode"),
    ("[Container]\nImage=alpine\n[Service]\nType=simple\n", 4, "invalid service Type"),
    ("[Container]\nExec=true\n", None, "no Image key specified"),
    ("[Container]\nImage=alpine\nPublishPort=80/sctp\n", 3, "PublishPort=80/sctp: "
     "unrecognized protocol 'sctp'"),
    ("[Container]\nImage=alpine\nVolume=/a:/b:bogus\n", 3, "Volume=/a:/b:bogus: "),
    ("[Container]\nImage=alpine\nVolume=/a:rel\n", 3, "Volume=/a:rel: "),
    ("[Container]\nImage=alpine\nMount=type=bind,dst=/x\n", 3, "Mount=type=bind,dst=/x: "),
    ("[Container]\nImage=alpine\nTmpfs=relative\n", 3, "Tmpfs=relative: "),
])
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int | None,
                                   message: str) -> None:
    path = write(tmp_path, "bad.container", text)
    res = convert(tmp_path)
    assert "bad.service" not in res.units and len(res.errors) == 1
    where = f"{path}:{line}: " if line else f"{path}: "
    assert res.errors[0].startswith(where) and message in res.errors[0], res.errors


def test_volume_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "v.volume", "[Volume]\nType=bind\n")
    assert convert(tmp_path).errors == [f"{path}:2: key Type can't be used without Device"]
    write(tmp_path, "v.volume", "[Volume]\nUser=bob\n")
    assert convert(tmp_path).errors == [f"{path}:2: User=bob: a numeric id"]
    write(tmp_path, "v.volume", "[Volume]\nImage=alpine\n")
    assert convert(tmp_path).errors == [f"{path}:2: unsupported key Image in [Volume]"]


def test_generator_writes_good_units_and_links_skips_bad_ones(tmp_path: Path, capsys,
                                                             monkeypatch) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    write(src, "good.container", "[Container]\nImage=alpine\n[Install]\n"
          "WantedBy=default.target multi-user.target\nRequiredBy=x.target\n")
    write(src, "bad.container", "[Container]\nImage=alpine\nFoo=1\n")
    write(src, "notes.txt", "ignored\n")
    monkeypatch.setenv("QUADLET_UNIT_DIRS", str(src))
    monkeypatch.setenv("PYMAN_BINARY", PYMAN)
    assert run([str(out), str(tmp_path / "early"), str(tmp_path / "late")], "gen", True) == 1
    err = capsys.readouterr().err
    assert err == f"gen: {src}/bad.container:3: unsupported key Foo in [Container]\n"
    assert sorted(os.listdir(out)) == ["default.target.wants", "good.service",
                                       "multi-user.target.wants", "x.target.requires"]
    assert os.readlink(out / "default.target.wants/good.service") == "../good.service"
    assert os.readlink(out / "x.target.requires/good.service") == "../good.service"
    text = (out / "good.service").read_text()
    assert text.startswith("# Automatically generated by gen\n#\n[X-Container]\n")
    assert f"ExecStart={PYMAN} run " in text
    # a second run (systemd daemon-reload) finds the links in place
    assert run([str(out)], "gen", True) == 1


def test_dryrun_prints_units(tmp_path: Path, capsys, monkeypatch) -> None:
    write(tmp_path, "a.container", "[Container]\nImage=alpine\n")
    monkeypatch.setenv("QUADLET_UNIT_DIRS", str(tmp_path))
    assert run(["--dryrun"], "gen", True) == 0
    out = capsys.readouterr().out
    assert out.startswith("---a.service---\n# Automatically generated by gen\n")
    assert run([], "gen", True) == 2  # neither an output dir nor --dryrun


def test_search_dirs_first_name_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("QUADLET_UNIT_DIRS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert search_dirs(True) == [f"{tmp_path}/cfg/containers/systemd",
                                 f"/etc/containers/systemd/users/{os.getuid()}",
                                 "/etc/containers/systemd/users"]
    assert search_dirs(False) == ["/run/containers/systemd", "/etc/containers/systemd",
                                  "/usr/share/containers/systemd"]
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write(a, "x.container", "[Container]\nImage=a\n")
    write(b, "x.container", "[Container]\nImage=b\n")
    write(b, "v.volume", "[Volume]\n")
    assert find_files([str(a), str(b), str(tmp_path / "missing")]) == [
        str(b / "v.volume"), str(a / "x.container")]


def test_write_units_replaces_atomically(tmp_path: Path) -> None:
    write(tmp_path, "a.container", "[Container]\nImage=alpine\n")
    res = convert(tmp_path)
    out = tmp_path / "out"
    write_units(res, str(out), "gen")
    write_units(res, str(out), "gen")
    assert os.listdir(out) == ["a.service"]


def test_dropins_add_to_a_file_and_errors_name_the_dropin(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "web.container.d").mkdir(parents=True)
    (b / "web.container.d").mkdir(parents=True)
    write(a, "web.container", "[Container]\nImage=alpine\nExec=sleep 1\nLabel=x=1\n")
    write(a / "web.container.d", "10-exec.conf", "[Container]\nExec=sleep 2\nLabel=y=2\n"
          "[Service]\nRestart=always\n")
    write(b / "web.container.d", "10-exec.conf", "[Container]\nExec=shadowed\n")
    write(b / "web.container.d", "20-env.conf", "# more\n[Container]\nEnvironment=E=1\n")
    dirs = [str(a), str(b)]
    res = convert_all(find_files(dirs), True, PYMAN, dirs)
    assert res.errors == []
    text = res.units["web.service"].text()
    assert "\nRestart=always\n" in text
    assert " --env E=1 --label x=1 --label y=2 alpine sleep 2\n" in text
    bad = write(b / "web.container.d", "30-bad.conf", "[Container]\n\nNope=1\n")
    assert convert_all(find_files(dirs), True, PYMAN, dirs).errors == [
        f"{bad}:3: unsupported key Nope in [Container]"]
    write(b / "web.container.d", "30-bad.conf", "[Volume]\n")
    assert convert_all(find_files(dirs), True, PYMAN, dirs).errors == [
        f"{bad}:1: unsupported section [Volume] (a .container file takes [Container], "
        "[Unit], [Service] and [Install])"]


def test_pyman_binary_env_then_beside_the_generator(tmp_path: Path, monkeypatch) -> None:
    import sys

    from pyman.quadlet.generate import pyman_binary

    monkeypatch.setenv("PYMAN_BINARY", "/x/pyman")
    assert pyman_binary() == "/x/pyman"
    monkeypatch.delenv("PYMAN_BINARY")
    bindir, gendir = tmp_path / "bin", tmp_path / "user-generators"
    bindir.mkdir()
    gendir.mkdir()
    for name in ("pyman", "pyman-quadlet"):
        write(bindir, name, "#!/bin/sh\n").chmod(0o755)
    (gendir / "pyman-user-generator").symlink_to(bindir / "pyman-quadlet")
    monkeypatch.setattr(sys, "argv", [str(gendir / "pyman-user-generator")])
    assert pyman_binary() == str(bindir / "pyman")  # beside the link's target


def test_go_style_single_dash_flags(tmp_path: Path, capsys, monkeypatch) -> None:
    write(tmp_path, "a.container", "[Container]\nImage=alpine\n")
    monkeypatch.setenv("QUADLET_UNIT_DIRS", str(tmp_path))
    assert run(["-user", "-dryrun", "-no-kmsg-log"], "gen", False) == 0
    assert capsys.readouterr().out.startswith("---a.service---\n")
    assert run(["--bogus"], "gen", False) == 2
    assert capsys.readouterr().err == "gen: unknown option --bogus\n"


def test_global_args_and_dependencies_on_other_quadlet_files(tmp_path: Path) -> None:
    write(tmp_path, "db.container", "[Container]\nImage=alpine\nGlobalArgs=--log-level=debug\n")
    write(tmp_path, "data.volume", "[Volume]\nGlobalArgs=--log-level=info\n")
    write(tmp_path, "app.container", "[Unit]\nAfter=db.container network.target\n"
          "Wants=db.container data.volume\n[Container]\nImage=alpine\n")
    res = convert(tmp_path)
    assert res.errors == []
    db = res.units["db.service"].text()
    assert f"ExecStart={PYMAN} --log-level=debug run --name=systemd-%N " in db
    assert f"ExecStop={PYMAN} --log-level=debug rm -f -i --cidfile=%t/%N.cid\n" in db
    assert (f"ExecStart={PYMAN} --log-level=info volume create --ignore systemd-data\n"
            in res.units["data-volume.service"].text())
    app = res.units["app.service"].text()
    assert "[Unit]\nAfter=db.service network.target\nWants=db.service data-volume.service\n" \
        in app
    path = write(tmp_path, "bad.container", "[Unit]\nRequires=nope.container\n"
                 "[Container]\nImage=alpine\n")
    assert convert(tmp_path).errors == [
        f"{path}:2: unable to translate dependency for nope.container (no such Quadlet file)"]


def test_values_with_specifiers_are_left_to_systemd(tmp_path: Path) -> None:
    write(tmp_path, "s.container", "[Container]\nImage=alpine\nVolume=%h/data:/data\n"
          "PublishPort=%i:80\n")
    res = convert(tmp_path)
    assert res.errors == []
    assert " -v %h/data:/data --publish %i:80 alpine\n" in res.units["s.service"].text()
