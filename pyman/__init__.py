"""pyman: a rootless, daemonless container manager, command-compatible with Podman."""

__version__ = "0.1.0"
