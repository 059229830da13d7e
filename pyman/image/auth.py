"""Registry credentials in auth.json, where Podman keeps them, in the same format.

Written to (and read first from) ``--authfile``, else ``$REGISTRY_AUTH_FILE``, else
``$XDG_RUNTIME_DIR/containers/auth.json``. Without a usable runtime dir (su, cron, CI), Podman
falls back to ``/tmp/podman-run-<uid>`` and so does pyman for this one file, so that a
``podman login`` serves pyman and the other way round. When no file is named explicitly,
``$XDG_CONFIG_HOME/containers/auth.json`` and ``~/.docker/config.json`` are read too.

Keys are a registry host, or host/namespace/repository for credentials scoped to part of it;
the most specific key wins. Files are written atomically with mode 0600 under a lock.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyman.errors import ConfigError, PymanError

AUTH_ENV = "REGISTRY_AUTH_FILE"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password by accident
        return f"Credentials(username={self.username!r})"

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """``user:password`` as --creds takes it (``user`` alone is refused: no prompt here)."""
        user, sep, password = text.partition(":")
        if not user or not sep:
            raise PymanError(f"invalid --creds {user or text!r}: expected USERNAME:PASSWORD")
        return cls(user, password)


def _home() -> Path:
    home = os.environ.get("HOME")
    if home:
        return Path(home)
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def podman_fallback_runtime_dir(uid: int) -> Path:
    """Where rootless Podman keeps runtime state when XDG_RUNTIME_DIR is unusable."""
    return Path(os.environ.get("TMPDIR") or "/tmp") / f"podman-run-{uid}"


def default_auth_file() -> Path:
    """The file login writes and logout edits when none is named (Podman's choice)."""
    from pyman.config import paths

    p = paths()
    if not p.runtime_fallback:
        return p.runtime_base / "containers" / "auth.json"
    return podman_fallback_runtime_dir(os.getuid()) / "containers" / "auth.json"


def auth_file(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(AUTH_ENV)
    if env:
        return Path(env)
    return default_auth_file()


def read_files(explicit: str | None = None) -> list[Path]:
    """Files to look credentials up in, first match wins."""
    if explicit or os.environ.get(AUTH_ENV):
        return [auth_file(explicit)]
    config = os.environ.get("XDG_CONFIG_HOME")
    config_dir = Path(config) if config and os.path.isabs(config) else _home() / ".config"
    return [default_auth_file(), config_dir / "containers" / "auth.json",
            _home() / ".docker" / "config.json"]


def normalize_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``host/ns/`` -> ``host/ns``."""
    had_scheme = key.startswith(("http://", "https://"))
    key = key.split("://", 1)[1] if had_scheme else key
    if had_scheme:  # Docker's legacy keys are URLs: only the host counts
        key = key.split("/", 1)[0]
    key = key.rstrip("/")
    if key in ("index.docker.io", "registry-1.docker.io"):
        key = "docker.io"
    return key


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reading credentials from {path}: {exc}. Fix or remove the file"
                          ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"reading credentials from {path}: not a JSON object. Fix or remove "
                          "the file")
    return data


def _decode(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("auth"), str):
        return None
    try:
        raw = base64.b64decode(entry["auth"], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    return Credentials(user, password) if sep and user else None


def _scopes(host: str, repository: str | None) -> list[str]:
    """Keys that may hold credentials for host/repository, most specific first."""
    keys = []
    if repository:
        parts = repository.split("/")
        keys += [f"{host}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
    keys.append(host)
    return keys


def lookup(host: str, repository: str | None = None, explicit: str | None = None
           ) -> tuple[Credentials, Path, str] | None:
    """Stored credentials for ``host`` (and ``repository``): (credentials, file, key)."""
    wanted = _scopes(normalize_key(host), repository)
    for path in read_files(explicit):
        auths = _load(path).get("auths")
        if not isinstance(auths, dict):
            continue
        normalized = {normalize_key(k): v for k, v in auths.items()}
        for key in wanted:
            creds = _decode(normalized.get(key))
            if creds is not None:
                return creds, path, key
    return None


def find(host: str, repository: str | None = None, explicit: str | None = None
         ) -> Credentials | None:
    got = lookup(host, repository, explicit)
    return got[0] if got else None


def _ensure_dir(directory: Path) -> None:
    """The auth file's directory: created 0700; a runtime dir must be ours and private."""
    parent = directory.parent
    if parent.name.startswith("podman-run-"):  # the shared /tmp fallback: trust it only if ours
        try:
            parent.mkdir(mode=0o700)
        except FileExistsError:
            pass
        st = os.lstat(parent)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise PymanError(
                f"{parent} is not a private directory owned by uid {os.getuid()}: refusing to "
                "store credentials there. Set XDG_RUNTIME_DIR to a 0700 directory you own, or "
                "use --authfile"
            )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically, 0600: a temporary file in the same directory, fsynced, renamed over."""
    _ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(data, indent="\t").encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _edit(path: Path) -> _Edit:
    return _Edit(path)


class _Edit:
    """``with _Edit(path) as auths:`` change the ``auths`` dict; saved atomically on exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = False

    def __enter__(self) -> dict[str, Any]:
        from pyman.storage.atomic import locked

        _ensure_dir(self.path.parent)
        self._lock = locked(self.path.with_name(f".{self.path.name}.lock"))
        self._lock.__enter__()
        try:
            self.data = _load(self.path)
            auths = self.data.get("auths")
            if not isinstance(auths, dict):
                auths = {}
            self.data["auths"] = auths
            return auths
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None and self.changed:
                _write(self.path, self.data)
        finally:
            self._lock.__exit__(None, None, None)


def store(path: Path, key: str, creds: Credentials) -> None:
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    edit = _edit(path)
    with edit as auths:
        for k in [k for k in auths if normalize_key(k) == key]:
            del auths[k]
        auths[key] = {"auth": token}
        edit.changed = True


def remove(path: Path, key: str) -> bool:
    """Forget ``key``; False when it was not there."""
    if not path.exists():
        return False
    edit = _edit(path)
    with edit as auths:
        hits = [k for k in auths if normalize_key(k) == key]
        for k in hits:
            del auths[k]
        edit.changed = bool(hits)
    return edit.changed


def remove_all(path: Path) -> None:
    if not path.exists():
        return
    edit = _edit(path)
    with edit as auths:
        auths.clear()
        edit.changed = True


CredentialsFor = Callable[[str, str], "Credentials | None"]


def credentials_for(creds: str | None = None, explicit: str | None = None) -> CredentialsFor:
    """host, repository -> credentials to use: ``--creds`` for all, else the stored ones."""
    if creds:
        given = Credentials.parse(creds)
        return lambda host, repository: given
    return lambda host, repository: find(host, repository, explicit)
