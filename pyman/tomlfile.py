"""Reading one TOML configuration file (registries.conf, containers.conf, storage.conf): None
when it does not exist; anything else wrong is a ConfigError naming the file (and tomllib's
``at line L, column C``). Stdlib only."""

from __future__ import annotations

import tomllib
from typing import Any

from pyman.errors import ConfigError


def read_toml(path: Any) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
