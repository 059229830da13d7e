"""`pyman build`'s pure part: the Containerfile parser, variable expansion, ignore files and
the stage plan. Nothing here touches the store or runs anything (engine/build*.py do)."""

# the Buildah release (Podman 4.3's) whose Containerfile semantics and output `pyman build`
# follows: `info`'s host.buildahVersion
BUILDAH_COMPAT = "1.28.0"
