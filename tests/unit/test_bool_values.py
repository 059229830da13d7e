"""Go-style boolean flag values (``--rm=true``) are rewritten for click on the real commands."""

from __future__ import annotations

import pytest

from pyman.cli.bool_values import normalize
from pyman.cli.main import build_app, invoked_command


def norm(*args: str) -> list[str]:
    return normalize(build_app(invoked_command(list(args))), list(args))


@pytest.mark.parametrize("given,expected", [
    (["run", "--rm=true", "alpine"], ["run", "--rm", "alpine"]),
    (["run", "--rm=false", "alpine"], ["run", "alpine"]),
    (["run", "-i=false", "-t=TRUE", "alpine"], ["run", "--tty", "alpine"]),
    (["run", "--sig-proxy=false", "alpine"], ["run", "--no-sig-proxy", "alpine"]),
    (["run", "--http-proxy=false", "alpine"], ["run", "--no-http-proxy", "alpine"]),
    (["run", "--sig-proxy=true", "alpine"], ["run", "--sig-proxy", "alpine"]),
    # the container's own arguments are left alone, and so are option values
    (["run", "--rm", "alpine", "echo", "--rm=true"], ["run", "--rm", "alpine", "echo",
                                                      "--rm=true"]),
    (["run", "--name", "--rm=true", "alpine"], ["run", "--name", "--rm=true", "alpine"]),
    (["run", "--network=none", "alpine"], ["run", "--network=none", "alpine"]),
    (["exec", "-i=false", "c", "sh", "-i=false"], ["exec", "c", "sh", "-i=false"]),
    (["kube", "play", "--start=false", "f.yaml"], ["kube", "play", "--no-start", "f.yaml"]),
    (["rm", "-f=1", "c"], ["rm", "--force", "c"]),
    (["run", "--rm=maybe", "alpine"], ["run", "--rm=maybe", "alpine"]),  # click's error
    (["run", "--", "--rm=true"], ["run", "--", "--rm=true"]),
])
def test_normalize(given: list[str], expected: list[str]) -> None:
    assert norm(*given) == expected
