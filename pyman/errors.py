"""One exception tree for everything pyman reports to a user.

Each error carries the exit code Podman would use: 125 for pyman's own failures, 126 for a
command that cannot be invoked, 127 for a command that is not found. The CLI prints
``Error: <message>`` on stderr and exits with ``exit_code``. Every class is here (the API's
400 BadRequest aside: tests/unit/test_error_tree.py); a command whose exit code for an error
differs from the error's (Podman's `rm` of a missing container: 1) says so where it renders
it, and nothing changes a caught error's code: a new error is made with its own.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # the monitor imports this module: no typing at its start-up
if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_ENGINE = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127


class PymanError(Exception):
    """Base of all errors shown to a user. ``str(err)`` is the one-line message.

    ``exit_code`` is the class's; one given here is this error's own (a command's exit
    status carried through, or a command that exits 1 where Podman does)."""

    exit_code: int = EXIT_ENGINE

    def __init__(self, *args: object, exit_code: int | None = None) -> None:
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


class InvalidReferenceError(PymanError):
    """An image reference that cannot be parsed."""


class ImageNotFoundError(PymanError):
    """An image that is neither in local storage nor in any registry tried."""


class RegistryError(PymanError):
    """A registry answered with an error, or could not be reached."""


class DigestMismatchError(PymanError):
    """Content whose digest differs from the one it was promised under."""


class ConfigError(PymanError):
    """A malformed configuration file (registries.conf, containers.conf ...)."""


class RootlessSetupError(PymanError):
    """The host is not ready for rootless containers (sub-ids, newuidmap, user namespaces)."""


class RuntimeNotFoundError(PymanError):
    """No working OCI runtime (runc, crun)."""


class ContainerNotFoundError(PymanError):
    """No container with that name or id."""


class ContainerExistsError(PymanError):
    """A container name already in use."""


class LayerError(PymanError):
    """A layer that cannot be unpacked safely (hostile or corrupt)."""


class StorageError(PymanError):
    """Local storage in a state pyman cannot use."""


class CommandNotFoundError(PymanError):
    """The container's command does not exist in the image (exit 127)."""

    exit_code = EXIT_NOT_FOUND


class CommandCannotRunError(PymanError):
    """The container's command exists but cannot be executed (exit 126)."""

    exit_code = EXIT_CANNOT_INVOKE


class UnauthorizedError(RegistryError):
    """A registry or its token service refused the credentials."""


class VolumeNotFoundError(PymanError):
    """No volume of that name."""


class VolumeExistsError(PymanError):
    """A volume of that name already exists."""


class PodNotFoundError(PymanError):
    """No pod with that name or id."""


class PodExistsError(PymanError):
    """A pod name already in use."""


class NetworkNotFoundError(PymanError):
    """No user-defined network of that name or id."""


class NetworkInUseError(PymanError):
    """Removing a network containers are on, without --force: Podman exits 2."""

    exit_code = 2


class ContainerStateError(PymanError):
    """The container is in the wrong state for the operation (Podman: "state improper")."""


class OCIRuntimeError(PymanError):
    """The OCI runtime failed for a reason other than the container's command
    (runtime/failure.py words it as Podman does)."""


class ContainerRunningError(ContainerStateError):
    """Removing a running container (or a pod with one) without --force: Podman exits 2."""

    exit_code = 2


class ImageInUseError(PymanError):
    """An image a container uses, removed without --force: Podman's words and exit 2."""

    exit_code = 2

    def __init__(self, container_id: str) -> None:
        super().__init__(f"image used by {container_id}: image is in use by a container: "
                         "consider listing external containers and force-removing image")


class Interrupted(PymanError):
    """SIGTERM or SIGINT stopped a long operation (a build): raised by the CLI's handler
    and passed through unchanged, so the clean-up on the way out runs and the exit code is
    128 + the signal's number."""


class ResultError(PymanError):
    """A helper's report that is not what a helper writes."""


class SecretNotFoundError(PymanError):
    """No secret of that name or id."""


class VolumeInUseError(PymanError):
    """Removing a volume a container uses, without --force: Podman exits 2."""

    exit_code = 2


class HealthTimeout(PymanError):
    """A healthcheck that ran past its timeout; ``status`` is the health it leaves."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class KubeError(PymanError):
    """Kubernetes YAML that `kube play` cannot use."""


class ArchiveError(PymanError):
    """An archive that cannot be loaded: corrupt, incomplete or hostile."""


class ManifestError(RegistryError):
    """A manifest that pyman cannot use (unsupported type, malformed, no matching platform)."""


class InvalidNameError(PymanError):
    """A name Podman would refuse."""


class NetworkError(PymanError):
    """A network helper (pasta, slirp4netns) that failed to set up the container's."""


class PortError(PymanError):
    """A published port that cannot be bound (at start: 126, the container cannot run)."""


class CorruptRecord(StorageError):
    """A store record that cannot be used; ``path`` is the file, ``why`` what is wrong."""

    def __init__(self, path: str | os.PathLike[str], why: str, hint: str = "") -> None:
        self.path = os.fspath(path)
        self.why = why
        self.cid = ""  # the container whose record it is, when it is one
        self.pod_id = ""  # the pod whose record it is, when it is one
        super().__init__(f"the record {self.path} is damaged ({why})" + (f": {hint}"
                                                                          if hint else ""))


class TemplateError(PymanError):
    """A --format Go template that cannot be parsed or run."""


class ParseError(PymanError):
    """A Containerfile that cannot be read: names the file and line."""


class ToolError(PymanError):
    """A helper tool exited non-zero or could not be started."""

    def __init__(self, message: str, returncode: int = -1, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class BuildStepError(PymanError):
    """A step that failed: the message says which; the exit code is a RUN's own."""


class StepFailed(PymanError):
    """A build that stopped at a step: names the step and line, with that error's code."""


class PathMissing(PymanError):
    """The container has no such path (the API's 404)."""


class NotADirectory(PymanError):
    """An archive is extracted into a directory only (the API's 400)."""


def from_exit_code(message: str, code: int) -> PymanError:
    """An error that crossed a process boundary as its message and exit code (the
    monitor's sync pipe): of the class the code means, so a library caller can catch
    CommandNotFoundError from `run` as from anywhere else."""
    classes: dict[int, type[PymanError]] = {EXIT_NOT_FOUND: CommandNotFoundError,
                                             EXIT_CANNOT_INVOKE: CommandCannotRunError}
    return classes.get(code, PymanError)(message, exit_code=code)


_warn_to: Callable[[str], None] | None = None


def warn(line: str) -> None:
    """A warning the user should see (a damaged record skipped, a directory made private):
    one line on stderr, as Podman logs them, unless a library caller took them with
    ``on_warning``."""
    if _warn_to is not None:
        _warn_to(line)
        return
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def on_warning(handler: Callable[[str], None] | None) -> None:
    """Send this process's warnings to ``handler`` (None: stderr again)."""
    global _warn_to
    _warn_to = handler
