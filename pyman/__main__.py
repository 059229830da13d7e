"""`python -m pyman`: the console script, for callers that have the interpreter but not the
script's path (a monitor running pyman again: a pod's exit policy, a healthcheck)."""

from pyman.cli.entry import entry

entry()
