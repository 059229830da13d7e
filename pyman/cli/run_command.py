"""pyman run and pyman create: one definition of the options, two commands.

No typer at run time here: cli/run.py registers these functions with typer (which reads
their annotations, strings naming typer, cv and complete_paths, in this module's namespace:
run.py puts those names in it first), and cli/fast.py calls them directly for the
everyday command lines, without building the command tree (issue 14)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    import typer

    from pyman.cli import complete_paths
    from pyman.cli import complete_values as cv


def _bad_parameter(message: str) -> Exception:
    """typer's BadParameter (click reports it as usage); only the typer path gets here (the
    fast path takes no option that can be bad this way)."""
    import typer

    return typer.BadParameter(message)


def make_command(create_only: bool) -> Callable[..., None]:
    def command(
        image: Annotated[str, typer.Argument(help="Image to run.",
                                                autocompletion=cv.images)],
        command: Annotated[list[str] | None, typer.Argument(
            help="Command and arguments.", autocompletion=complete_paths.image_paths)
                           ] = None,
        name: Annotated[str | None, typer.Option("--name", help="Name of the container.")
                        ] = None,
        env: Annotated[list[str] | None, typer.Option("--env", "-e",
                                                      help="Set environment variables.")
                       ] = None,
        unsetenv: Annotated[list[str] | None, typer.Option(
            "--unsetenv", help="Unset a default environment variable (the defaults' and "
            "the image's).")] = None,
        unsetenv_all: Annotated[bool, typer.Option(
            "--unsetenv-all", help="Unset all default environment variables: only -e's.")
                                ] = False,
        kernel_memory: Annotated[str | None, typer.Option(
            "--kernel-memory", hidden=True, help="Gone from the kernel: a no-op, with "
            "Podman's warning.")] = None,
        ipc: Annotated[str, typer.Option(
            "--ipc", help="IPC namespace: shareable (default), private, host, none or "
            "container:<name|id>.")] = "",
        tz: Annotated[str | None, typer.Option(
            "--tz", help="Timezone of the container: a zoneinfo name (Europe/Paris) or local "
            "(the host's /etc/localtime).")] = None,
        dns: Annotated[list[str] | None, typer.Option(
            "--dns", help="A DNS server for the container's /etc/resolv.conf.")] = None,
        dns_search: Annotated[list[str] | None, typer.Option(
            "--dns-search", help="A DNS search domain for the container.")] = None,
        dns_option: Annotated[list[str] | None, typer.Option(
            "--dns-option", "--dns-opt", help="A resolv.conf option for the container.")
                              ] = None,
        group_add: Annotated[list[str] | None, typer.Option(
            "--group-add", help="Add a supplementary group: a gid or a name from the image's "
            "/etc/group.")] = None,
        systemd: Annotated[str, typer.Option(
            "--systemd", help="Run systemd in it: true (when the command is an init or "
            "systemd), false or always: tmpfs on /run, /run/lock, /tmp, /var/log/journal, "
            "container_uuid, stop signal SIGRTMIN+3.")] = "true",
        rmi: Annotated[bool, typer.Option(
            "--rmi", help="Remove the image after the run unless other containers use it "
            "(run only; implies --rm).")] = False,
        workdir: Annotated[str | None, typer.Option("--workdir", "-w",
                                                    help="Working directory.")] = None,
        entrypoint: Annotated[str | None, typer.Option(
            "--entrypoint", help="Override the image's entrypoint.")] = None,
        user: Annotated[str | None, typer.Option("--user", "-u", help="user[:group]")] = None,
        hostname: Annotated[str | None, typer.Option("--hostname", "-h")] = None,
        network: Annotated[list[str] | None, typer.Option(
            "--network", "--net", help="pasta, slirp4netns[:options], host, none or a "
            "network's name[:alias=A,ip=IP,mac=MAC,interface_name=I]; again for more "
            "networks.", autocompletion=cv.networks)] = None,
        label: Annotated[list[str] | None, typer.Option("--label", "-l",
                                                        help="key=value metadata.")] = None,
        rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")
                      ] = False,
        replace: Annotated[bool, typer.Option(
            "--replace", help="Replace a container of the same name.")] = False,
        detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")
                          ] = False,
        interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                                  help="Keep stdin open.")] = False,
        tty: Annotated[bool, typer.Option("--tty", "-t", help="Allocate a pseudo-TTY.")
                       ] = False,
        detach_keys: Annotated[str, typer.Option(
            "--detach-keys", help="Keys that detach from the container: a character or "
            "ctrl-<value>, comma separated; empty: none.")] = "ctrl-p,ctrl-q",
        sig_proxy: Annotated[bool, typer.Option(
            "--sig-proxy/--no-sig-proxy", help="Proxy received signals to the container "
            "(attached runs).")] = True,
        pull: Annotated[str, typer.Option("--pull", help="always, missing, never.",
                                             autocompletion=cv.pull_policies)
                        ] = "missing",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress pull output.")
                         ] = False,
        # -- security and limits (engine/specgen/security.py) --
        cap_add: Annotated[list[str] | None, typer.Option(
            "--cap-add", help="Add capabilities (NAME, CAP_NAME or ALL).")] = None,
        cap_drop: Annotated[list[str] | None, typer.Option(
            "--cap-drop", help="Drop capabilities (NAME, CAP_NAME or ALL).")] = None,
        privileged: Annotated[bool, typer.Option(
            "--privileged", help="All capabilities, no seccomp, no masked paths, host devices."
        )] = False,
        security_opt: Annotated[list[str] | None, typer.Option(
            "--security-opt", help="no-new-privileges, seccomp=unconfined|PROFILE.json, "
            "mask=PATHS, unmask=PATHS|ALL, label=..., apparmor=...")] = None,
        read_only: Annotated[bool, typer.Option(
            "--read-only", help="Mount the container's root filesystem read-only.")] = False,
        read_only_tmpfs: Annotated[str, typer.Option(
            "--read-only-tmpfs", help="With --read-only: tmpfs on /run, /tmp, /var/tmp "
            "(true or false).", autocompletion=cv.bool_values)] = "true",
        init: Annotated[bool, typer.Option(
            "--init", help="Run an init (catatonit) as pid 1 that forwards signals and "
            "reaps zombies.")] = False,
        init_path: Annotated[str | None, typer.Option(
            "--init-path", help="Path to the init binary for --init.")] = None,
        env_file: Annotated[list[str] | None, typer.Option(
            "--env-file", help="Read environment variables from a file.")] = None,
        env_host: Annotated[bool, typer.Option(
            "--env-host", help="Use all current host environment variables in container")
                            ] = False,
        http_proxy: Annotated[bool, typer.Option(  # --http-proxy=false needs the off form
            "--http-proxy/--no-http-proxy", help="Set proxy environment variables in the "
            "container based on the host proxy vars")] = True,
        add_host: Annotated[list[str] | None, typer.Option(
            "--add-host", help="Add host:ip to the container's /etc/hosts.")] = None,
        stop_signal: Annotated[str | None, typer.Option(
            "--stop-signal", help="Signal that stops the container (default SIGTERM).",
            autocompletion=cv.signals)
                               ] = None,
        stop_timeout: Annotated[int | None, typer.Option(
            "--stop-timeout", help="Seconds stop waits before SIGKILL (default 10).")
                                ] = None,
        ulimit: Annotated[list[str] | None, typer.Option(
            "--ulimit", help="name=soft[:hard], e.g. nofile=1024:2048.")] = None,
        memory: Annotated[str | None, typer.Option(
            "--memory", "-m", help="Memory limit (needs a delegated cgroup v2 tree).")
                          ] = None,
        cpus: Annotated[float | None, typer.Option(
            "--cpus", help="CPUs (needs a delegated cgroup v2 tree).")] = None,
        pids_limit: Annotated[int | None, typer.Option(
            "--pids-limit", help="Process limit (needs a delegated cgroup v2 tree).")
                              ] = None,
        # -- networking
        network_alias: Annotated[list[str] | None, typer.Option(
            "--network-alias", help="Another name for the container on its network.")
                                 ] = None,
        ip: Annotated[str | None, typer.Option(
            "--ip", help="Its IPv4 address on its network.")] = None,
        mac_address: Annotated[str | None, typer.Option(
            "--mac-address", help="Its MAC address on its network.")] = None,
        publish: Annotated[list[str] | None, typer.Option(
            "--publish", "-p", help="[ip:][hostPort:]containerPort[/tcp|/udp]; ranges too.")
                           ] = None,
        publish_all: Annotated[bool, typer.Option(
            "--publish-all", "-P", help="Publish every EXPOSEd port to a free host port.")
                               ] = False,
        # -- volumes and mounts (engine/specgen/mounts.py parses them) --
        volume: Annotated[list[str] | None, typer.Option(
            "--volume", "-v",
            help="Bind mount or volume: host-dir|volume:ctr-dir:options, or ctr-dir.",
            autocompletion=cv.volume_sources)] = None,
        mount: Annotated[list[str] | None, typer.Option(
            "--mount", help="type=bind|volume|tmpfs,src=...,dst=...,ro,...")] = None,
        tmpfs: Annotated[list[str] | None, typer.Option(
            "--tmpfs", help="Mount a tmpfs: ctr-dir:options.")] = None,
        volumes_from: Annotated[list[str] | None, typer.Option(
            "--volumes-from", help="The volumes and binds of another container: "
            "CONTAINER[:ro|rw].", autocompletion=cv.containers)] = None,
        image_volume: Annotated[str, typer.Option(
            "--image-volume", help="The image's VOLUMEs: bind, tmpfs or ignore (default: "
            "containers.conf's image_volume_mode, else bind).",
            autocompletion=cv.image_volume_modes)] = "",
        userns: Annotated[str | None, typer.Option(
            "--userns", help="User namespace: host (default) or keep-id, keep-id:uid=N,gid=N."
        )] = None,
        pod: Annotated[str | None, typer.Option(
            "--pod", help="Run in this pod: share its network, IPC and UTS namespaces.",
            autocompletion=cv.pods)
                       ] = None,
        requires: Annotated[list[str] | None, typer.Option(
            "--requires", help="Containers started before this one (comma separated).",
            autocompletion=cv.containers)] = None,
        # -- systemd (engine/specgen/systemd_opts.py)
        cidfile: Annotated[str | None, typer.Option(
            "--cidfile", help="Write the container's id to this file (must not exist).")
                           ] = None,
        sdnotify: Annotated[str, typer.Option(
            "--sdnotify", help="Under systemd: conmon (the monitor says READY=1 once the "
            "container runs), container (the container says it) or ignore.",
            autocompletion=cv.sdnotify_modes)] = "container",
        cgroups: Annotated[str, typer.Option(
            "--cgroups", help="enabled, no-conmon, split (the monitor always stays in the "
            "caller's cgroup) or disabled (no cgroup: no limits).",
            autocompletion=cv.cgroups_modes)] = "enabled",
        restart: Annotated[str, typer.Option(
            "--restart", help="Restart policy when the container exits: no, on-failure[:N], "
            "always, unless-stopped.", autocompletion=cv.restart_policies)] = "",
        log_driver: Annotated[str, typer.Option(
            "--log-driver", help="k8s-file (default), json-file, none or passthrough.",
            autocompletion=cv.log_drivers)] = "",
        log_opt: Annotated[list[str] | None, typer.Option(
            "--log-opt", help="Log options: max-size=N[kmg], path=FILE, tag=T.")] = None,
        # -- healthcheck (engine/health/config.py)
        health_cmd: Annotated[str | None, typer.Option(
            "--health-cmd", help="Command to check health: a command line (run with "
            "/bin/sh -c) or a JSON array; none disables the image's.")] = None,
        health_interval: Annotated[str | None, typer.Option(
            "--health-interval", help="Time between checks (default 30s; disable: "
            "none).")] = None,
        health_retries: Annotated[int | None, typer.Option(
            "--health-retries", help="Failures in a row that make it unhealthy (default "
            "3).")] = None,
        health_start_period: Annotated[str | None, typer.Option(
            "--health-start-period", help="Time to start up, when failures do not count "
            "(default 0s).")] = None,
        health_timeout: Annotated[str | None, typer.Option(
            "--health-timeout", help="Longest a check may run (default 30s).")] = None,
        health_on_failure: Annotated[str, typer.Option(
            "--health-on-failure", help="On unhealthy: none, kill, restart or stop.")
        ] = "none",
        no_healthcheck: Annotated[bool, typer.Option(
            "--no-healthcheck", help="No healthcheck, not even the image's.")] = False,
        attach_streams: Annotated[list[str] | None, typer.Option(
            "--attach", "-a", help="Attach to STDIN, STDOUT or STDERR (run: the others are "
            "not relayed; none of stdout and stderr: the id is printed).")] = None,
        preserve_fds: Annotated[int, typer.Option(
            "--preserve-fds", help="Pass N additional file descriptors (3 to 3+N-1) into "
            "the container.")] = 0,
        conmon_pidfile: Annotated[str | None, typer.Option(
            "--conmon-pidfile", help="Write the pid of the container's monitor to this "
            "file at each start.")] = None,
        runtime: Annotated[str | None, typer.Option(
            "--runtime", help="The OCI runtime of this container: a name or a path.")
                           ] = None,
        timeout: Annotated[int, typer.Option(
            "--timeout", help="Kill the container after this many seconds (0: never); "
            "its exit code is then -1.")] = 0,
        hostuser: Annotated[list[str] | None, typer.Option(
            "--hostuser", help="Add this host user (name or uid) to the container's "
            "/etc/passwd.")] = None,
        secret: Annotated[list[str] | None, typer.Option(
            "--secret", help="A secret: NAME[,type=mount|env,target=,uid=,gid=,mode=] "
            "(at /run/secrets/NAME by default).")] = None,
    ) -> None:
        from pyman.cli.context import engine as make_engine
        from pyman.cli.progress import PullProgress
        from pyman.engine.specgen.env import expand_env, host_env
        from pyman.engine.types import PULL_POLICIES, RunOptions

        policy = next((p for p in PULL_POLICIES if p == pull), None)
        if policy is None:
            raise _bad_parameter(f"invalid pull policy {pull!r}: always, missing or never")
        if replace and not name:
            raise _bad_parameter("cannot replace container without --name being set")
        labels: dict[str, Any] = {}
        for item in label or []:
            key, _, value = item.partition("=")
            labels[key] = value
        opts = RunOptions(image=image, command=list(command or []), name=name,
                          env=expand_env(env or []), workdir=workdir, entrypoint=entrypoint,
                          user=user, hostname=hostname,
                          network=network[0] if network else None,
                          network_extra=list(network or [])[1:], rm=rm,
                          network_aliases=list(network_alias or []), ip=ip,
                          mac_address=mac_address,
                          detach=detach, interactive=interactive, replace=replace,
                          labels=labels, pull=policy,
                          cap_add=cap_add or [], cap_drop=cap_drop or [],
                          privileged=privileged, security_opt=security_opt or [],
                          publish=list(publish or []), publish_all=publish_all,
                          read_only=read_only, read_only_tmpfs=_truth(
                              "--read-only-tmpfs", read_only_tmpfs),
                          init=init, init_path=init_path,
                          add_host=add_host or [], stop_signal=stop_signal,
                          stop_timeout=stop_timeout, ulimit=ulimit or [], memory=memory,
                          cpus=cpus, pids_limit=pids_limit, pod=pod, tty=tty,
                          sig_proxy=sig_proxy)
        if env_file:
            from pyman.engine.specgen.env import read_env_files

            opts.env = read_env_files(env_file) + opts.env
        opts.env = host_env(env_host, http_proxy) + opts.env
        opts.volumes, opts.mounts, opts.tmpfs = volume or [], mount or [], tmpfs or []
        opts.volumes_from = list(volumes_from or [])
        opts.requires = [r for item in requires or [] for r in item.split(",") if r]
        if tz:
            opts.mounts = [*opts.mounts,
                           f"type=bind,src={_zoneinfo(tz)},dst=/etc/localtime,ro=true"]
        opts.image_volume, opts.userns = image_volume, userns or ""
        opts.cidfile, opts.sdnotify, opts.cgroups = cidfile, sdnotify, cgroups
        opts.create_command = list(sys.argv)  # inspect's Config.CreateCommand
        opts.unsetenv, opts.unsetenv_all = list(unsetenv or []), unsetenv_all
        opts.ipc = ipc
        if any(v is not None for v in (health_cmd, health_interval, health_retries,
                                       health_start_period, health_timeout)) \
                or no_healthcheck or health_on_failure != "none":
            from pyman.engine.health.config import HealthOptions

            opts.health = HealthOptions(health_cmd, health_interval, health_retries,
                                        health_start_period, health_timeout,
                                        health_on_failure, no_healthcheck)
        opts.group_add = list(group_add or [])
        opts.dns, opts.dns_search = list(dns or []), list(dns_search or [])
        opts.dns_option = list(dns_option or [])
        opts.systemd = systemd.lower()
        if kernel_memory is not None:
            print("WARN[0000] The --kernel-memory flag is no longer supported. This flag is a "
                  "noop.", file=sys.stderr)
        if rmi:
            if create_only:
                from pyman.errors import PymanError

                raise PymanError("unknown flag: --rmi\nSee 'pyman create --help'")
            opts.rm = True
        opts.restart = restart
        opts.log_driver, opts.log_opt = log_driver, log_opt or []
        from pyman.cli.run_extras import apply_extras

        apply_extras(opts, attach_streams, preserve_fds, conmon_pidfile, runtime, timeout,
                     hostuser, create_only, secret)
        attach = size = None
        if tty and not detach and not create_only:
            from pyman.cli.attach_session import parse_detach_keys, terminal_client
            from pyman.errors import PymanError

            try:
                keys = parse_detach_keys(detach_keys)
            except PymanError as exc:  # as Podman, which finds out when it starts: 126
                raise PymanError(str(exc), exit_code=126) from None
            attach, size = terminal_client(interactive, keys)
        if tty and not create_only:
            from pyman.cli.attach_session import warn_not_a_tty

            warn_not_a_tty(interactive, tty)
        engine = make_engine()
        new_pod = _new_pod(engine, opts)
        try:
            with PullProgress(quiet) as progress:
                if create_only:
                    engine.containers.precheck(opts)
                    image_rec = engine.images.get_or_pull(opts.image, opts.pull, progress)
                    print(engine.containers.create(opts, image_rec).id)
                    return
                result = engine.containers.run(opts, progress, attach, size)
        except BaseException:
            if new_pod:  # the pod was made for this container alone
                engine.pods.remove(new_pod, force=True, ignore=True)
            raise
        if result.detached:
            return  # detach keys: the container runs on; Podman prints nothing
        if result.exit_code is None or opts.attach_none:  # -a without stdout and stderr
            if opts.log_driver != "passthrough":  # the container owns stdout (as Podman)
                print(result.id)
            if result.exit_code is None:
                return
        sys.stdout.flush()
        if rmi:
            _remove_image(engine, opts.image)
        raise SystemExit(result.exit_code)  # as typer.Exit: click returns its code

    command.__doc__ = ("Create but do not start a container." if create_only
                       else "Run a command in a new container.")
    return command


def _zoneinfo(tz: str) -> str:
    """--tz: the host's zone file the container's /etc/localtime becomes, as Podman."""
    import os

    from pyman.errors import PymanError

    path = "/etc/localtime" if tz == "local" else os.path.join("/usr/share/zoneinfo", tz)
    real = os.path.realpath(path)
    if (tz != "local" and (tz.startswith("/") or ".." in tz.split("/"))) or \
            not os.path.isfile(real) or "," in real:
        raise PymanError(f"finding timezone: unknown time zone {tz}")
    return real


def _remove_image(engine: Any, image: str) -> None:
    """--rmi after the run: an image other containers use stays (an error line, as Podman's
    logged one; the run's exit code is the container's)."""
    from pyman.errors import PymanError

    try:
        engine.images.remove(image, engine.containers.using_image)
    except PymanError as exc:
        print(f"Error: {exc}", file=sys.stderr)


def _new_pod(engine: Any, opts: Any) -> str:
    """--pod new:NAME (Podman's): the pod is made first, with the container's network,
    published ports and hostname (a member shares them); its id, "" for no new pod."""
    if not (opts.pod or "").startswith("new:"):
        return ""
    from pyman.engine.pods import PodCreateOptions

    pod = engine.pods.create(PodCreateOptions(name=opts.pod[4:] or None,
                                              publish=list(opts.publish),
                                              network=opts.network, hostname=opts.hostname))
    # the pod has them now: the member shares its network and (with it) its hostname
    opts.pod, opts.publish, opts.network, opts.hostname = pod.id, [], None, None
    return str(pod.id)


def _truth(flag: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise _bad_parameter(f"{flag} takes true or false, not {value!r}")
    return value.lower() == "true"
