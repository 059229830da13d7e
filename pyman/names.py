"""The one rule for the names of containers, pods and volumes: Podman's.

A name starts with an ASCII letter or digit and goes on with letters, digits, ``_``, ``.``
and ``-`` (containers/common's ``NameRegex``). Nothing else: names end up in unit files
(generate systemd, Quadlet), in command lines and, for volumes, as directory names, so a
newline, a space, a ``/`` or a leading ``-`` must never get into a record.
"""

from __future__ import annotations

import re

from pyman.errors import InvalidNameError

NAME_PATTERN = "[a-zA-Z0-9][a-zA-Z0-9_.-]*"
# explicit ASCII classes (not \w): no unicode letters or digits; fullmatch: no trailing \n
NAME_RE = re.compile(NAME_PATTERN)
NAME_RULE = f"names must match {NAME_PATTERN}: invalid argument"  # Podman's words
# a volume's name is its directory's name: the file system's limit (Podman fails there too)
MAX_VOLUME_NAME = 255


def valid_name(name: str) -> bool:
    return NAME_RE.fullmatch(name) is not None


def check_name(name: str, context: str = "") -> str:
    """``name`` when it is valid; else Podman's error, after ``context: `` when given
    (``running container create option`` ...). Exit code 125, as Podman's."""
    if not valid_name(name):
        raise InvalidNameError(f"{context}: {NAME_RULE}" if context else NAME_RULE)
    return name


def check_volume_name(name: str, context: str = "running volume create option") -> str:
    check_name(name, context)
    if len(name) > MAX_VOLUME_NAME:
        raise InvalidNameError(f"{context}: volume names are at most {MAX_VOLUME_NAME} "
                               f"characters (a directory's name): pick a shorter one")
    return name
