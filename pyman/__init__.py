"""pyman: a rootless, daemonless container manager, command-compatible with Podman."""

__version__ = "0.1.0"
BUILT = 0  # `version`'s Server.Built (Podman: the build's Unix time); names the pause image
