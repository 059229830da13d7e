"""Images: pull, list, remove, reports, registries, archives, commit, manifests."""
