"""A new container's record from run/create options and the image: the process, env, user,
network and ports, security, limits, mounts planned, pod and namespace joins."""

from __future__ import annotations

from typing import Any

from pyman.engine.network.modes import (
    check_network,
    default_network,
    published_ports,
    split_options,
)
from pyman.engine.types import RunOptions
from pyman.errors import PymanError
from pyman.netns import is_named
from pyman.storage.containers import ContainerConfig
from pyman.storage.ids import new_id
from pyman.storage.images import ImageRecord
from pyman.storage.mount_spec import MountSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService


def build(svc: ContainerService, opts: RunOptions, image: ImageRecord
          ) -> tuple[ContainerConfig, list[MountSpec]]:
    """The record of a new container (not stored yet) and the mounts it asks for."""
    from pyman.containers_conf import current
    from pyman.engine.specgen import restart_policy
    from pyman.engine.specgen.security import parse as parse_security
    from pyman.engine.specgen.systemd_opts import check_cgroups, check_sdnotify
    from pyman.runtime.spec import image_process_args, merge_env

    if svc.options.get("default_mounts_file"):
        from pyman.engine.containers.mounts import default_mounts

        opts = default_mounts(opts, svc.options["default_mounts_file"])
    check_sdnotify(opts.sdnotify)
    check_cgroups(opts.cgroups, bool(opts.memory or opts.cpus or opts.pids_limit))
    restart, retries = restart_policy.parse(opts.restart, opts.rm)
    from pyman.engine.specgen import log_config

    log_driver, log_opts = log_config.parse(opts.log_driver, opts.log_opt)
    log_config.check_passthrough(log_driver)
    conf = current()
    sec = parse_security(opts.cap_add, opts.cap_drop, opts.privileged, opts.security_opt)
    default_caps = _default_caps(conf)
    lim = limits_fields(opts)
    icfg: dict[str, Any] = svc.images.config(image).get("config") or {}
    user_entry = None if opts.entrypoint is None else entrypoint_words(opts.entrypoint)
    args = image_process_args(icfg.get("Entrypoint") or [], icfg.get("Cmd") or [],
                              user_entry, opts.command or None)
    if not args:
        raise PymanError(
            "no command or entrypoint provided, and no CMD or ENTRYPOINT from image"
        )
    join, share, hostname_default, pod_id = joined(svc, opts)
    networks: dict[str, Any] = {}
    network_options: list[str] = []
    if "net" in share:
        network = f"container:{join}"
    elif is_named(opts.network):
        from pyman.engine.network.user_networks import plan

        network, networks = "netavark", plan(opts.network or "", opts.network_aliases,
                                             opts.ip, opts.mac_address, opts.network_extra)
    else:
        mode, network_options = split_options(opts.network or default_network()[0])
        network = check_network(mode)[0]
    if (opts.network_aliases or opts.ip or opts.mac_address) and not networks:
        raise PymanError("invalid config provided: networks and static ip/mac address can "
                         "only be used with Bridge mode networking (--network-alias, --ip and "
                         "--mac-address need --network NAME of a network: pyman network "
                         "create NAME)")
    ports = published_ports(opts, icfg, network)
    from pyman.engine.containers import mounts as container_mounts

    specs = container_mounts.plan(opts.volumes, opts.mounts, opts.tmpfs,
                                  dict(icfg.get("Volumes") or {}),
                                  opts.image_volume or str(current().get(
                                      "engine", "image_volume_mode", "bind")))
    if opts.volumes_from:
        specs = _volumes_from(svc, opts.volumes_from, specs, opts)
    systemd = systemd_mode(opts.systemd, args)
    if systemd:  # what systemd as the container's init needs, as Podman mounts it
        from pyman.storage.mount_spec import MountSpec

        taken = {m.destination for m in specs}
        specs += [MountSpec("tmpfs", d, source="tmpfs", options=["rprivate", "nosuid", "nodev"])
                  for d in SYSTEMD_TMPFS if d not in taken]
    from pyman.engine.specgen import userns

    userns_mode = userns.parse(opts.userns or conf.get("containers", "userns") or "")
    keep_ids = userns.keep_id_ids(userns_mode)
    if userns_mode and network == "netavark":  # its netns must be its own user namespace's
        raise PymanError(f"--userns={userns_mode.partition(':')[0]} on a user-defined network "
                         "is not supported yet: use --network pasta (or another mode) with it")
    workdir = opts.workdir or icfg.get("WorkingDir") or "/"
    cid = new_id()
    hostname = opts.hostname or hostname_default or cid[:12]
    config = ContainerConfig(
        id=cid,
        name=opts.name or "",
        image_id=image.id,
        image_name=_image_name(svc, opts.image, image),
        image_digest=image.list_digest or image.digest,  # as image inspect's Digest
        layers=list(image.layers),
        args=args,
        entrypoint=user_entry if user_entry is not None else icfg.get("Entrypoint") or [],
        # an --entrypoint of its own drops the image's CMD, as Podman (commit keeps that)
        cmd=opts.command or ([] if user_entry is not None else icfg.get("Cmd") or []),
        env=merge_env(icfg.get("Env") or [], opts.env, hostname,
                      home=keep_id_home(specs, workdir) if keep_ids and opts.user is None
                      else None,
                      defaults=conf.get("containers", "env"), unset=opts.unsetenv,
                      unset_all=opts.unsetenv_all),
        workdir=workdir,
        # keep-id runs as the user by default, as Podman does
        user=opts.user if opts.user is not None else (
            f"{keep_ids[0]}:{keep_ids[1]}" if keep_ids else icfg.get("User") or ""),
        hostname=hostname,
        network=network,
        network_options=network_options,
        rm=opts.rm,
        labels={**dict(icfg.get("Labels") or {}), **opts.labels},
        cap_add=sec.cap_add, cap_drop=sec.cap_drop, privileged=sec.privileged,
        no_new_privileges=sec.no_new_privileges, seccomp=sec.seccomp, mask=sec.mask,
        unmask=sec.unmask, security_opt=sec.security_opt,
        ports=ports,
        **lim,
        pod=pod_id,
        infra=opts.infra,
        join=join,
        share=share,
        networks=networks,
        sdnotify=opts.sdnotify,
        cgroups=opts.cgroups,
        create_command=list(opts.create_command),
        healthcheck=_healthcheck(opts, icfg),
        health_on_failure=opts.health.on_failure if opts.health is not None else "none",
        restart_policy=restart,
        restart_retries=retries,
        log_driver=log_driver,
        log_path=str(log_opts.get("path", "")),
        log_size=int(log_opts.get("max_size", 0)),
        log_tag=str(log_opts.get("tag", "")),
    )
    config.userns = userns_mode
    if userns_mode.startswith("auto"):
        from pyman.engine.specgen.userns_auto import allocate

        config.userns, config.userns_base = allocate(svc, image, userns_mode)
    config.default_caps = default_caps
    # a namespace of its own (keep-id, nomap, auto) shows the layers id-mapped through
    # fuse-overlayfs whatever the driver
    config.storage_driver = "overlay" if userns_mode else svc.paths.driver
    config.ipc = opts.ipc
    config.attach, config.conmon_pidfile = opts.attach, opts.conmon_pidfile or ""
    config.oci_runtime, config.timeout = opts.runtime or "", opts.timeout
    config.hostusers = list(opts.hostusers)
    config.requires = [_dependency(svc, key) for key in opts.requires]
    config.workdir_given = bool(opts.workdir) and not opts.make_workdir
    from pyman.engine.containers.root_mode import image_root_mode

    config.root_mode = image_root_mode(svc.images, image)
    if opts.secrets:
        from pyman.engine.secrets import SecretStore, parse_specs

        config.secrets = parse_specs(opts.secrets, SecretStore(svc.paths.data))
    if "keep-groups" in opts.group_add:
        if len(opts.group_add) > 1:
            raise PymanError("the '--group-add keep-groups' option is not allowed with any "
                             "other --group-add options")
        raise PymanError("--group-add keep-groups is not supported by pyman: name the groups "
                         "to add")
    config.group_add = list(opts.group_add)
    config.dns = [_dns_server(s) for s in opts.dns]
    config.dns_search, config.dns_options = list(opts.dns_search), list(opts.dns_option)
    config.tty, config.interactive = opts.tty, opts.interactive
    if opts.tty and not any(e.startswith("TERM=") for e in config.env):
        config.env.append("TERM=xterm")  # as Podman gives a container with a terminal
    if systemd:
        config.env.append(f"container_uuid={cid[:32]}")
        if opts.stop_signal is None and not icfg.get("StopSignal"):
            config.stop_signal = 37  # SIGRTMIN+3: systemd's request to shut down
    if opts.stop_signal is None and icfg.get("StopSignal"):
        from pyman.engine.specgen.limits import parse_signal

        try:  # the image's STOPSIGNAL, as Podman uses it
            config.stop_signal = parse_signal(str(icfg["StopSignal"]))
        except PymanError:
            pass
    return config, specs


def _dependency(svc: ContainerService, key: str) -> str:
    """A --requires container's id (Podman's words when there is none)."""
    from pyman.errors import ContainerNotFoundError

    try:
        return svc.store.find(key).id
    except ContainerNotFoundError as exc:
        raise ContainerNotFoundError(f'"{key}" is not a valid container, cannot be used as '
                                     f"a dependency: {exc}") from None


def _volumes_from(svc: ContainerService, sources: list[str], specs: list[MountSpec],
                  opts: RunOptions) -> list[MountSpec]:
    """--volumes-from: the other container's volumes and binds at the same places (its
    volumes are shared, never anonymous to this one); what this container names itself
    wins, the image's own VOLUMEs give way."""
    from pyman.errors import ContainerNotFoundError

    given = {m.destination for m in specs if not m.anonymous}
    out = list(specs)
    for src in sources:
        name, _, mode = src.partition(":")
        if mode not in ("", "ro", "rw", "z", "Z"):
            raise PymanError(f"invalid options {mode!r} for --volumes-from {src}: ro or rw")
        try:
            other = svc.store.find(name)
        except ContainerNotFoundError:
            raise PymanError(f"no container with name or ID {name!r} found: no such "
                             "container (--volumes-from)") from None
        for raw in other.mounts:
            m = MountSpec.from_json(raw)
            if m.type not in ("volume", "bind") or m.destination in given:
                continue
            out = [s for s in out if s.destination != m.destination]
            m.anonymous = False
            if mode in ("ro", "rw"):
                m.rw = mode == "rw"
            out.append(m)
            given.add(m.destination)
    return out


def keep_id_home(specs: list[Any], workdir: str) -> str:
    """HOME of a keep-id container: the user's home when a mount brings it (or a dir above
    it) in, else the working directory (engine/containers/passwd_users.py)."""
    import os
    import pwd

    from pyman.engine.containers.passwd_users import home_in_container

    return home_in_container(pwd.getpwuid(os.getuid()).pw_dir,
                             [m.destination for m in specs], workdir)


def entrypoint_words(text: str) -> list[str]:
    """--entrypoint: a JSON array of strings is the words themselves (as Podman), anything
    else one word; "" clears the image's."""
    if text.startswith("["):
        import json

        try:
            words = json.loads(text)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return words
    return [text] if text else []


def _image_name(svc: ContainerService, given: str, image: ImageRecord) -> str:
    """Podman's ImageName: the name the container was created from, in full
    (localhost/x:latest for `x`); the image's first name when it was given by id."""
    rec, meant = svc.images.match_local(given)
    if rec is not None and rec.id == image.id and meant:
        return meant
    return image.names[0] if image.names else image.id


def limits_fields(opts: RunOptions) -> dict[str, Any]:
    """ContainerConfig fields of the rootfs, init, hosts, stop and limit options."""
    from pyman.engine.specgen import limits

    memory = limits.parse_memory(opts.memory) if opts.memory else 0
    if opts.cpus is not None and opts.cpus < 0:
        raise PymanError(f"invalid --cpus {opts.cpus}: must be positive")
    nano_cpus = int((opts.cpus or 0) * 1e9)
    pids = opts.pids_limit or 0
    given = opts.memory is not None or opts.cpus is not None or opts.pids_limit is not None
    if given and limits.ignored_on_cgroup_v1():
        memory = nano_cpus = pids = 0
    limits.check_limits(memory, nano_cpus, pids)
    if opts.stop_timeout is not None and opts.stop_timeout < 0:
        raise PymanError(f"invalid --stop-timeout {opts.stop_timeout}: must not be "
                         "negative")
    return {
        "read_only": opts.read_only,
        "read_only_tmpfs": opts.read_only_tmpfs,
        "init": limits.init_binary(opts.init_path) if opts.init else "",
        "extra_hosts": limits.parse_add_host(opts.add_host),
        "stop_signal": limits.parse_signal(opts.stop_signal) if opts.stop_signal else 15,
        "stop_timeout": opts.stop_timeout,
        "ulimits": [list(u) for u in limits.default_ulimits(opts.ulimit)],
        "memory": memory,
        "nano_cpus": nano_cpus,
        "pids_limit": pids,
    }
SYSTEMD_TMPFS = ("/run", "/run/lock", "/tmp", "/var/log/journal")
SYSTEMD_INITS = ("/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init")


def systemd_mode(mode: str, args: list[str]) -> bool:
    """--systemd: always; true (the default) when the command is an init or systemd."""
    if mode not in ("true", "false", "always"):
        raise PymanError(f'invalid --systemd "{mode}": use true, false or always')
    if mode != "true":
        return mode == "always"
    return bool(args) and (args[0] in SYSTEMD_INITS or args[0].rsplit("/", 1)[-1] == "systemd")


IPC_MODES = ("", "shareable", "private", "host", "none")


def _ipc_donor(svc: ContainerService, ipc: str) -> str:
    """--ipc container:<name|id>: the container whose IPC namespace to join ("" for
    none); the other modes are checked here and applied by the spec (runtime/bundle.py)."""
    if not ipc.startswith("container:"):
        if ipc not in IPC_MODES:
            raise PymanError(f'invalid --ipc "{ipc}": use host, none, private, shareable or '
                             "container:<name|id>")
        return ""
    target = svc.store.find(ipc.split(":", 1)[1])
    if target.ipc in ("private", "host", "none"):
        raise PymanError(f"joining the IPC namespace of container {target.name or target.id} "
                         f"is not allowed: non-shareable IPC (hint: use IpcMode:shareable for "
                         "the donor container)")
    return target.id


def _healthcheck(opts: RunOptions, icfg: dict[str, Any]) -> dict[str, Any]:
    """--health-* over the image's HEALTHCHECK (Podman's Config.Healthcheck; {}: none)."""
    if opts.health is None and not icfg.get("Healthcheck"):
        return {}
    from pyman.engine.health.config import HealthOptions, build

    return build(opts.health or HealthOptions(), icfg.get("Healthcheck"))


def joined(svc: ContainerService, opts: RunOptions) -> tuple[str, list[str], str, str]:
    """(container to join, namespaces shared with it, hostname, pod id) for --pod and
    --network container:<name|id>; nothing for a container of its own."""
    if opts.pod and not opts.infra:
        from pyman.storage.pods import PodStore

        pod = PodStore(svc.paths.pods).find(opts.pod)
        if not pod.infra_id:  # --infra=false: a member of its own, in the pod by name only
            return "", [], "", pod.id
        if opts.hostname and "uts" in pod.share:
            raise PymanError("invalid config provided: cannot set hostname when joining the "
                             "pod UTS namespace: invalid configuration")
        if opts.publish or opts.publish_all or opts.network:
            raise PymanError(
                "invalid config provided: published or exposed ports must be defined "
                "when the pod is created: network cannot be configured when it is shared "
                "with a pod")
        return (pod.infra_id, list(pod.share), pod.hostname if "uts" in pod.share else "",
                pod.id)
    ipc_from = _ipc_donor(svc, opts.ipc)
    if opts.network and opts.network.startswith("container:"):
        target = svc.store.find(opts.network.split(":", 1)[1])
        if ipc_from and ipc_from != target.id:
            raise PymanError("--network container: and --ipc container: must name the same "
                             "container: pyman joins the namespaces of one")
        return target.id, ["net", "ipc"] if ipc_from else ["net"], "", ""
    if ipc_from:
        return ipc_from, ["ipc"], "", ""
    if opts.infra:
        return "", [], "", opts.pod or ""
    return "", [], "", ""


def _default_caps(conf: Any) -> list[str] | None:
    """containers.conf default_capabilities, normalized; None when no file sets them."""
    caps = conf.default_capabilities
    if caps is None:
        return None
    from pyman.runtime.capabilities import UnknownCapability, normalize_all

    try:
        return [c for c in normalize_all(caps) if c != "ALL"]
    except UnknownCapability as exc:
        from pyman.errors import ConfigError

        raise ConfigError(f"{conf.source('containers', 'default_capabilities')}: "
                          f"default_capabilities: unknown capability {exc}") from None


def _dns_server(value: str) -> str:
    """--dns takes addresses, as Podman (a name would need DNS to be found)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise PymanError(f"{value} is not an ip address") from None
