"""containers-registries.conf(5): search registries, aliases, mirrors, blocked and insecure.

Files, as containers/image reads them: ``$CONTAINERS_REGISTRIES_CONF`` if set, else the user's
``registries.conf`` if it exists (then only the user's drop-ins follow), else the system file
followed by the system and then the user drop-in dirs. Later files override earlier ones:
``unqualified-search-registries`` and ``short-name-mode`` are replaced, ``[[registry]]`` tables
with the same prefix are replaced, ``[aliases]`` are merged (an empty value erases one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyman.errors import ConfigError, InvalidReferenceError, RegistryError
from pyman.image.reference import (
    Reference,
    is_short_name,
    is_valid_domain,
    parse_name,
    parse_reference,
)
from pyman.tomlfile import read_toml

SYSTEM_DIR = Path("/etc/containers")
DEFAULT_SEARCH = "docker.io"  # when nothing is configured, like Docker
PULL_FROM_MIRROR = ("", "all", "digest-only", "tag-only")
SHORT_NAME_MODES = ("", "enforcing", "permissive", "disabled")


@dataclass(frozen=True)
class Mirror:
    """A [[registry.mirror]] of registries.conf."""

    location: str
    insecure: bool = False
    pull_from_mirror: str = ""  # "", all, digest-only, tag-only


@dataclass(frozen=True)
class Registry:
    """A [[registry]] of registries.conf: where a prefix goes and how."""

    prefix: str
    location: str  # "" only for a wildcard prefix: no rewrite
    insecure: bool = False
    blocked: bool = False
    mirror_by_digest_only: bool = False
    mirrors: tuple[Mirror, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """Where to fetch a reference from: a registry host and the repository there."""

    host: str
    repository: str
    insecure: bool
    is_mirror: bool


@dataclass
class RegistriesConf:
    """registries.conf and its drop-ins, merged."""

    search: list[str] | None = None  # None: not configured anywhere
    registries: dict[str, Registry] = field(default_factory=dict)  # by prefix
    aliases: dict[str, str] = field(default_factory=dict)
    short_name_mode: str = ""
    files: list[Path] = field(default_factory=list)  # the files read, in order

    @property
    def search_registries(self) -> list[str]:
        return list(self.search) if self.search is not None else [DEFAULT_SEARCH]

    def resolve(self, name: str) -> list[Reference]:
        """The references ``name`` may mean, in the order to try them."""
        if not is_short_name(name):
            return [parse_reference(name)]
        short = parse_reference(name, default_registry="localhost")  # validates the short name
        alias = self.aliases.get(_alias_key(name))
        if alias:
            base = parse_name(alias)
            return [Reference(base.registry, base.repository, short.tag, short.digest)]
        return [parse_reference(name, default_registry=reg) for reg in self.search_registries]

    def find_registry(self, ref: Reference) -> Registry | None:
        """The ``[[registry]]`` table whose prefix matches ``ref`` longest."""
        text = str(ref)
        best: Registry | None = None
        best_len = -1
        for reg in self.registries.values():
            n = _match_len(text, ref.registry, reg.prefix)
            if n > best_len:
                best, best_len = reg, n
        return best

    def insecure_host(self, host: str) -> bool:
        """Whether ``host`` (host[:port]) is the location of a registry or mirror marked
        insecure: only then may credentials go to it over plain http (a token realm, a
        redirect's target), besides the registry being talked to itself."""
        for reg in self.registries.values():
            places = [(reg.location or reg.prefix, reg.insecure),
                      *((m.location, m.insecure) for m in reg.mirrors)]
            if any(insecure and loc.split("/", 1)[0] == host for loc, insecure in places):
                return True
        return False

    def endpoints(self, ref: Reference) -> list[Endpoint]:
        """Mirrors first, then the primary location; raises RegistryError when blocked."""
        reg = self.find_registry(ref)
        if reg is None:
            return [Endpoint(ref.registry, ref.repository, False, False)]
        if reg.blocked:
            raise RegistryError(
                f"registry {reg.prefix} is blocked in registries.conf: refusing to pull {ref}"
            )
        out = [_rewrite(ref, reg, m.location, m.insecure, True)
               for m in reg.mirrors if _mirror_applies(reg, m, ref)]
        out.append(_rewrite(ref, reg, reg.location, reg.insecure, False))
        return out


def _alias_key(name: str) -> str:
    """Aliases are looked up without tag or digest."""
    base = name.split("@", 1)[0]
    colon = base.rfind(":")
    return base[:colon] if colon > base.rfind("/") else base


def _match_len(text: str, registry: str, prefix: str) -> int:
    if prefix.startswith("*."):
        return len(prefix) if registry.endswith(prefix[1:]) else -1
    if not text.startswith(prefix):
        return -1
    if len(text) == len(prefix) or text[len(prefix)] in "/:@":
        return len(prefix)
    return -1


def _mirror_applies(reg: Registry, mirror: Mirror, ref: Reference) -> bool:
    digested = ref.digest is not None
    if reg.mirror_by_digest_only or mirror.pull_from_mirror == "digest-only":
        return digested
    if mirror.pull_from_mirror == "tag-only":
        return not digested
    return True


def _rewrite(ref: Reference, reg: Registry, location: str, insecure: bool,
             is_mirror: bool) -> Endpoint:
    if reg.prefix.startswith("*.") or not location:
        return Endpoint(ref.registry, ref.repository, insecure, is_mirror)
    name = ref.name
    rest = name[len(reg.prefix):] if len(reg.prefix) <= len(name) else ""
    try:
        new = parse_reference(location + rest, default_registry=ref.registry)
    except InvalidReferenceError as exc:
        raise RegistryError(f"rewriting {ref} for location {location!r}: {exc}") from exc
    return Endpoint(new.registry, new.repository, insecure, is_mirror)


# ---- loading ----


def _files(config_dir: Path, system_dir: Path) -> list[Path]:
    def dropins(d: Path) -> list[Path]:
        return sorted(p for p in d.glob("*.conf") if p.is_file()) if d.is_dir() else []

    user_main = config_dir / "registries.conf"
    user_d = config_dir / "registries.conf.d"
    env = os.environ.get("CONTAINERS_REGISTRIES_CONF")
    if env:
        main = Path(env)
    elif user_main.exists():
        return [user_main, *dropins(user_d)]
    else:
        main = system_dir / "registries.conf"
    return [main, *dropins(system_dir / "registries.conf.d"), *dropins(user_d)]


def load_registries_conf(config_dir: Path | None = None,
                         system_dir: Path = SYSTEM_DIR) -> RegistriesConf:
    """Read and merge every registries.conf file that applies."""
    if config_dir is None:
        from pyman.config import paths

        config_dir = paths().config
    conf = RegistriesConf()
    for i, path in enumerate(_files(config_dir, system_dir)):
        data = read_toml(path)
        if data is None:
            continue
        conf.files.append(path)
        try:
            _merge(conf, data, allow_v1=(i == 0))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return conf


def _merge(conf: RegistriesConf, data: dict[str, Any], allow_v1: bool) -> None:
    if "registries" in data:
        if not allow_v1:
            raise ConfigError("the v1 [registries.*] format is not allowed in drop-in files")
        if any(k in data for k in ("registry", "unqualified-search-registries", "aliases")):
            raise ConfigError("mixing the v1 [registries.*] and v2 formats is not supported")
        data = _v1_to_v2(data["registries"])
    if "unqualified-search-registries" in data:
        conf.search = _search_list(data["unqualified-search-registries"])
    if "short-name-mode" in data:
        mode = _str(data["short-name-mode"], "short-name-mode")
        if mode not in SHORT_NAME_MODES:
            raise ConfigError(f"invalid short-name-mode {mode!r} (enforcing, permissive, disabled)")
        conf.short_name_mode = mode
    seen: set[str] = set()
    for table in _list_of_tables(data.get("registry", []), "[[registry]]"):
        reg = _registry(table)
        if reg.prefix in seen:
            continue  # within one file the first table with a prefix wins
        seen.add(reg.prefix)
        conf.registries[reg.prefix] = reg
    _merge_aliases(conf.aliases, data.get("aliases", {}))


def _v1_to_v2(v1: Any) -> dict[str, Any]:
    if not isinstance(v1, dict):
        raise ConfigError("[registries] must be a table")

    def names(key: str) -> list[str]:
        return _str_list(v1.get(key, {}).get("registries", []), f"registries.{key}")

    out: dict[str, Any] = {"unqualified-search-registries": names("search")}
    regs: dict[str, dict[str, Any]] = {}
    for loc in names("block"):
        regs.setdefault(loc, {"location": loc})["blocked"] = True
    for loc in names("insecure"):
        regs.setdefault(loc, {"location": loc})["insecure"] = True
    out["registry"] = list(regs.values())
    return out


def _search_list(value: Any) -> list[str]:
    out = []
    for item in _str_list(value, "unqualified-search-registries"):
        host = item.rstrip("/")
        if not is_valid_domain(host):
            raise ConfigError(f"invalid unqualified-search-registries entry {item!r}: "
                              "expected host[:port]")
        out.append(host)
    return out


def _registry(table: dict[str, Any]) -> Registry:
    prefix = _location(table.get("prefix", ""), "prefix")
    location = _location(table.get("location", ""), "location")
    if "pull-from-mirror" in table:
        raise ConfigError(f"pull-from-mirror must not be set for a non-mirror registry {prefix!r}")
    if not prefix:
        if not location:
            raise ConfigError("a [[registry]] table needs a prefix or a location")
        prefix = location
    _check_prefix(prefix)
    if not location and not prefix.startswith("*."):
        raise ConfigError(f"[[registry]] {prefix!r}: location is unset and prefix is not "
                          "of the form *.example.com")
    by_digest = _bool(table, "mirror-by-digest-only")
    mirrors = tuple(_mirror(m, prefix, by_digest)
                    for m in _list_of_tables(table.get("mirror", []), "[[registry.mirror]]"))
    return Registry(prefix, location, _bool(table, "insecure"), _bool(table, "blocked"),
                    by_digest, mirrors)


def _mirror(table: dict[str, Any], prefix: str, by_digest: bool) -> Mirror:
    location = _location(table.get("location", ""), "mirror location")
    if not location:
        raise ConfigError(f"[[registry.mirror]] of {prefix!r}: location is unset")
    pfm = _str(table.get("pull-from-mirror", ""), "pull-from-mirror")
    if pfm not in PULL_FROM_MIRROR:
        raise ConfigError(f"unsupported pull-from-mirror value {pfm!r} for mirror {location!r} "
                          "(all, digest-only, tag-only)")
    if by_digest and pfm:
        raise ConfigError(f"cannot set mirror-by-digest-only for {prefix!r} and "
                          f"pull-from-mirror for its mirror {location!r} at the same time")
    return Mirror(location, _bool(table, "insecure"), pfm)


def _check_prefix(prefix: str) -> None:
    if "*" not in prefix:
        return
    wild = prefix.startswith("*.") and "*" not in prefix[1:]
    if not wild or any(c in prefix for c in "/:@"):
        raise ConfigError(f"invalid prefix {prefix!r}: a wildcard is only allowed as a leading "
                          "*. in a bare host name, e.g. *.example.com")


def _merge_aliases(aliases: dict[str, str], table: Any) -> None:
    if not isinstance(table, dict):
        raise ConfigError("[aliases] must be a table of \"name\" = \"registry/repository\"")
    for name, value in table.items():
        value = _str(value, f"alias {name!r}")
        if not is_short_name(name) or _alias_key(name) != name:
            raise ConfigError(f"alias {name!r}: the name must be a short name without tag or "
                              "digest")
        if not value:
            aliases.pop(name, None)
            continue
        try:
            parse_name(value)
        except InvalidReferenceError as exc:
            raise ConfigError(f"alias {name!r}: {exc}") from None
        aliases[name] = value


# ---- value checks ----


def _location(value: Any, what: str) -> str:
    text = _str(value, what).rstrip("/")
    if text.startswith(("http://", "https://")):
        raise ConfigError(f"invalid {what} {value!r}: URI schemes are not supported")
    return text


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _bool(table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    return value


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{what} must be an array of strings")
    return list(value)


def _list_of_tables(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{what} must be an array of tables")
    return list(value)
