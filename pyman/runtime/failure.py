"""What a failure of the OCI runtime tells the user: Podman's words and exit codes, one
classification for `run` (the monitor's create/start), `exec` and the runtime driver.

libpod's getOCIRuntimeError reads the runtime's message in this order: the first line with
"permission denied" or "operation not permitted" makes an OCI permission denied (126); the
first with "executable file not found in" or "no such file or directory" a command not found
(127); anything else is an OCI runtime error. `podman run` exits with define.ExitCode of the
whole error (127 when it says "not found" or "no such file", else 126: the command could not
be invoked); `podman exec` keeps 125 for a plain runtime error.

Runtime messages, as runc 1.1 and crun word them: ``exec: "nosuch": executable file not found
in $PATH``, ``exec: "/nosuch": stat /nosuch: no such file or directory``, ``exec:
"/etc/passwd": permission denied``; crun ``executable file `nosuch` not found in $PATH: No
such file or directory``, ``open executable: Permission denied``.
"""

from __future__ import annotations

import os
import re

from pyman.errors import (
    EXIT_CANNOT_INVOKE,
    EXIT_ENGINE,
    EXIT_NOT_FOUND,
    CommandCannotRunError,
    CommandNotFoundError,
    OCIRuntimeError,
    PymanError,
)

_DENIED = r"(?i).*(?:permission denied|operation not permitted).*"
_NOT_FOUND = r"(?i).*(?:executable file not found in|no such file or directory).*"


def classify(message: str) -> int:
    """127 (command not found), 126 (cannot be run) or 125 (anything else), as Podman
    matches the runtime's message."""
    if re.search(_DENIED, message):
        return EXIT_CANNOT_INVOKE
    if re.search(_NOT_FOUND, message):
        return EXIT_NOT_FOUND
    return EXIT_ENGINE


def runtime_failure(runtime: str, message: str, *, starting: bool = True) -> PymanError:
    """The error for a runtime that failed to create or start a container (``starting``)
    or an exec session's process; ``runtime`` is its name or path."""
    name = os.path.basename(runtime) or runtime
    message = message.strip("\n")
    if found := re.search(_DENIED, message):
        return CommandCannotRunError(f"{name}: {found.group(0)}: OCI permission denied")
    if found := re.search(_NOT_FOUND, message):
        return CommandNotFoundError(
            f"{name}: {found.group(0)}: OCI runtime attempted to invoke a command that was "
            "not found")
    text = f"OCI runtime error: {name}: {message}"
    if not starting:
        return OCIRuntimeError(text)
    low = text.lower()  # define.ExitCode reads the whole error
    code = EXIT_NOT_FOUND if "not found" in low or "no such file" in low else EXIT_CANNOT_INVOKE
    return OCIRuntimeError(text, exit_code=code)
