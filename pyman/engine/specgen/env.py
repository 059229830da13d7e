"""A container's environment from the caller's words, as Podman builds it: -e NAME=value, or
NAME alone (NAME* a glob) to copy the caller's; --env-file; --env-host and --http-proxy."""

from __future__ import annotations

import fnmatch
import os

from pyman.errors import PymanError


def expand_env(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        name, eq, _ = item.partition("=")
        if not name:
            raise PymanError(f"invalid environment variable {item!r}: expected NAME=value")
        if eq:
            out.append(item)
        elif name.endswith("*"):
            out += [f"{k}={v}" for k, v in os.environ.items() if fnmatch.fnmatch(k, name)]
        elif name in os.environ:
            out.append(f"{name}={os.environ[name]}")
    return out


def read_env_file(path: str) -> list[str]:
    """An --env-file as Podman reads it: one NAME=value a line (the value verbatim), NAME
    alone takes pyman's own value (NAME* a glob of them), blank lines and #-comments skipped."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise PymanError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    out: list[str] = []
    for raw in lines:
        line = raw.lstrip(" \t\n\v\f\r")
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if not name:
            raise PymanError(f"invalid variable: {line!r}")
        if any(c in name for c in " \t\n\v\f\r"):
            raise PymanError(f"name {name!r} has white spaces, poorly formatted name")
        out += [f"{name}={value}"] if eq else expand_env([name])
    return out


def read_env_files(paths: list[str]) -> list[str]:
    """Several --env-file, in order; errors name the file, as Podman's do."""
    out: list[str] = []
    for path in paths:
        try:
            out += read_env_file(path)
        except PymanError as exc:
            raise PymanError(f'parsing env file "{path}": {exc}') from None
    return out


PROXY_VARS = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "HTTP_PROXY",
              "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY")


def host_env(env_host: bool, http_proxy: bool) -> list[str]:
    """--env-host (every host variable) and --http-proxy (the host's proxy variables), under
    --env-file and -e, over the image's: Podman's order."""
    keys = list(os.environ) if env_host else [k for k in PROXY_VARS if k in os.environ] \
        if http_proxy else []
    return [f"{k}={os.environ[k]}" for k in keys]
