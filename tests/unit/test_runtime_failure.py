"""One reading of an OCI runtime's failure for run, exec and the driver: Podman's words
(libpod's getOCIRuntimeError) and exit codes (define.ExitCode for run, 125 kept by exec)."""

from __future__ import annotations

import pytest

from pyman.errors import (
    CommandCannotRunError,
    CommandNotFoundError,
    OCIRuntimeError,
    PymanError,
    from_exit_code,
)
from pyman.runtime.failure import classify, runtime_failure

# what runc 1.1.5 and crun print when the container's command cannot start
NOT_FOUND = ['runc create failed: unable to start container process: exec: "nosuch": '
             'executable file not found in $PATH',
             'runc create failed: unable to start container process: exec: "/nosuch": '
             'stat /nosuch: no such file or directory',
             "executable file `nosuch` not found in $PATH: No such file or directory"]
CANNOT_RUN = ['runc create failed: unable to start container process: exec: "/etc/passwd": '
              'permission denied',
              "open executable: Permission denied",
              "runc create failed: operation not permitted"]


@pytest.mark.parametrize("msg", NOT_FOUND)
def test_not_found(msg: str) -> None:
    assert classify(msg) == 127
    err = runtime_failure("/usr/sbin/runc", msg)
    assert isinstance(err, CommandNotFoundError) and err.exit_code == 127
    assert str(err) == (f"runc: {msg}: OCI runtime attempted to invoke a command that was "
                        "not found")


@pytest.mark.parametrize("msg", CANNOT_RUN)
def test_cannot_run(msg: str) -> None:
    assert classify(msg) == 126
    err = runtime_failure("crun", msg, starting=False)
    assert isinstance(err, CommandCannotRunError) and err.exit_code == 126
    assert str(err) == f"crun: {msg}: OCI permission denied"


def test_permission_is_read_first_and_only_its_line_is_quoted() -> None:
    msg = "stat /x: no such file or directory\nexec: \"/x\": permission denied\nmore"
    err = runtime_failure("runc", msg)
    assert err.exit_code == 126
    assert str(err) == 'runc: exec: "/x": permission denied: OCI permission denied'


def test_other_failures_differ_between_run_and_exec() -> None:
    msg = "cgroups in hybrid mode not supported"
    assert classify(msg) == 125
    run = runtime_failure("/usr/bin/crun", msg)
    assert isinstance(run, OCIRuntimeError)
    assert str(run) == "OCI runtime error: crun: cgroups in hybrid mode not supported"
    assert run.exit_code == 126  # podman run: the command could not be invoked
    assert runtime_failure("crun", msg, starting=False).exit_code == 125  # podman exec


def test_a_code_from_another_process_keeps_its_class() -> None:
    assert isinstance(from_exit_code("x", 127), CommandNotFoundError)
    assert isinstance(from_exit_code("x", 126), CommandCannotRunError)
    other = from_exit_code("x", 3)
    assert type(other) is PymanError and other.exit_code == 3
    assert PymanError("y").exit_code == 125  # the class's own when none is given
