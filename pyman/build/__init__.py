"""`pyman build`'s pure part: the Containerfile parser, variable expansion, ignore files and
the stage plan. Nothing here touches the store or runs anything (engine/build*.py do)."""
