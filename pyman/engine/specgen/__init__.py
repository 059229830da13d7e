"""A new container's options checked and normalized at create (Podman's specgen)."""
