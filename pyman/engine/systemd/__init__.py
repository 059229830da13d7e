"""`generate systemd`: unit files in Podman's shape."""
