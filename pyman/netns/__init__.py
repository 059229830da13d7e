"""Container networking: none, host, slirp4netns, pasta; hosts and resolv.conf."""

MODES = ("pasta", "slirp4netns", "host", "none")
