"""One exception tree for everything pyman reports to a user.

Each error carries the exit code Podman would use: 125 for pyman's own failures, 126 for a
command that cannot be invoked, 127 for a command that is not found. The CLI prints
``Error: <message>`` on stderr and exits with ``exit_code``.
"""

from __future__ import annotations

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


def from_exit_code(message: str, code: int) -> PymanError:
    """An error that crossed a process boundary as its message and exit code (the
    monitor's sync pipe): of the class the code means, so a library caller can catch
    CommandNotFoundError from `run` as from anywhere else."""
    classes: dict[int, type[PymanError]] = {EXIT_NOT_FOUND: CommandNotFoundError,
                                             EXIT_CANNOT_INVOKE: CommandCannotRunError}
    return classes.get(code, PymanError)(message, exit_code=code)


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
