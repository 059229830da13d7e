"""Container networking: none, host, slirp4netns, pasta; hosts and resolv.conf."""

MODES = ("pasta", "slirp4netns", "host", "none")


def is_named(mode: str | None) -> bool:
    """Whether --network names user-defined networks (not a mode: pasta, host, container:x);
    cheap, on `run`'s path: the network code is imported only when it does."""
    if not mode:
        return False
    first = mode.split(",")[0].split(":")[0]
    return first not in (*MODES, "private", "bridge", "container", "ns")
