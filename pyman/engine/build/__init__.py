"""`pyman build`: Containerfile stages executed into images, with a layer cache."""
