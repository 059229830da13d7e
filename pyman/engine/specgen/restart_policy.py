"""--restart: Podman's policy names, retry counts and messages (the monitor applies it)."""

from __future__ import annotations

from pyman.errors import PymanError

POLICIES = ("no", "on-failure", "always", "unless-stopped")


def parse(value: str, rm: bool = False) -> tuple[str, int]:
    """``no|on-failure[:N]|always|unless-stopped`` -> (name, retries); "" is no policy."""
    name, colon, count = value.partition(":")
    if name not in POLICIES and value:
        raise PymanError(f'running container create option: "{value}" is not a valid '
                         "restart policy: invalid argument")
    retries = 0
    if colon:
        if name != "on-failure":
            raise PymanError("restart policy retries can only be specified with on-failure "
                             "restart policy")
        try:
            retries = int(count)
        except ValueError:
            raise PymanError(f"parsing restart policy retry count: strconv.Atoi: parsing "
                             f'"{count}": invalid syntax') from None
        if retries < 0:
            raise PymanError("must specify restart policy retry count as a number greater "
                             "than 0")
    if rm and name not in ("", "no"):
        raise PymanError('the --rm option conflicts with --restart, when the restartPolicy '
                         'is not "" and "no"')
    return name, retries
