"""What `run` and `create` can refuse before an image is pulled: cheap checks of the
options alone (every import is inside, so the module costs nothing on `ps`'s path)."""

from __future__ import annotations

from pyman.engine.types import RunOptions


def precheck(opts: RunOptions) -> None:
    """What can be refused before an image is pulled."""
    from pyman.engine.specgen.systemd_opts import check_cgroups, check_cidfile, check_sdnotify
    from pyman.names import check_name

    if opts.name:  # checked again where the record is written (store.create)
        check_name(opts.name, "running container create option")
    check_sdnotify(opts.sdnotify)
    check_cgroups(opts.cgroups, bool(opts.memory or opts.cpus or opts.pids_limit))
    if opts.cidfile:
        check_cidfile(opts.cidfile)
    if opts.restart or opts.rm:
        from pyman.engine.specgen.restart_policy import parse

        parse(opts.restart, opts.rm)
    if opts.log_driver or opts.log_opt:
        from pyman.engine.specgen import log_config

        log_config.check_passthrough(log_config.parse(opts.log_driver, opts.log_opt)[0])
    if opts.network_extra:
        _more_networks(opts)
    if opts.publish:
        from pyman.netns.ports import parse_publish

        for spec in opts.publish:
            parse_publish(spec)


def _more_networks(opts: RunOptions) -> None:
    """--network given again: more networks, only after a network (or bridge: the default
    network, podman) as Podman."""
    from pyman.errors import PymanError
    from pyman.netns import is_named

    if opts.network == "bridge":
        opts.network = "podman"
    if not is_named(opts.network):
        mode = (opts.network or "").split(":")[0]
        raise PymanError(f"cannot set multiple networks without bridge network mode, selected "
                         f"mode {mode}: invalid argument")
