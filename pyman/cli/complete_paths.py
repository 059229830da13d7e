"""Completion of paths inside an image (`run/create IMAGE <TAB>`) or a container
(`cp CTR:<TAB>`), as Podman's getPathCompletion offers them, read through engine.completion's
view of the layers (nothing is mounted). A completion callback also says how the shell
should go on (cobra's directive): `DIRECTIVE` holds the last one set, for `__complete`.
"""

from __future__ import annotations

from typing import Any

# cobra's ShellCompDirective bits
DEFAULT, ERROR, NO_SPACE, NO_FILE_COMP = 0, 1, 2, 4
DIRECTIVE: list[int] = []


def _say(directive: int) -> None:
    DIRECTIVE.append(directive)


def _join(head: str, name: str) -> str:
    """Podman's simplePathJoinUnix: a slash only when ``head`` does not end with one."""
    return name if not head else head + name if head.endswith("/") else f"{head}/{name}"


def path_completion(layers: list[str], typed: str) -> tuple[list[str], int]:
    """The entries a path being typed may go on with, in the stack ``layers`` (top first)."""
    from pyman.engine.system.completion import view as tree

    view = tree(layers)
    typed = typed or "/"
    parts = view.resolve(typed)
    base = ""
    if not view.is_dir(parts):  # complete the last component in its parent
        base, parts = (parts[-1], parts[:-1]) if parts else ("", parts)
        typed = typed[:typed.rfind("/") + 1]
        if not view.is_dir(parts):
            return [], DEFAULT
    entries = view.listdir(parts)
    if not entries:  # an empty dir: its slash, and no space after it
        return [typed if typed.endswith("/") else typed + "/"], DEFAULT | NO_SPACE
    out, count = [], 0
    for e in entries:
        if e.name.startswith(base):
            out.append(_join(typed, e.name + ("/" if e.is_dir else "")))
            count += 2 if e.is_dir else 1  # a dir counts twice: no space after it
    return out, DEFAULT | (NO_SPACE if count > 1 else 0)


def _engine() -> Any:
    from pyman.cli.context import engine

    return engine()


def image_paths(ctx: Any, incomplete: str) -> list[str]:
    """run/create: the words after the image are paths inside it."""
    image = ctx.params.get("image") if ctx is not None else None
    try:
        from pyman.engine.system.completion import image_layers

        layers = image_layers(_engine(), image) if image else None
    except Exception:  # a damaged store: the shell's own completion instead
        layers = None
    if layers is None:
        _say(DEFAULT)
        return []
    values, directive = path_completion(layers, incomplete)
    _say(directive)
    return values


def copy_paths(incomplete: str) -> list[str]:
    """cp: CONTAINER:PATH inside the container; else the containers (with their colon)
    when the word may be one, else the host's paths (the shell's completion)."""
    from pyman.cli.complete_values import container_names

    name, colon, path = incomplete.partition(":")
    if colon:
        try:
            from pyman.engine.system.completion import container_layers

            layers = container_layers(_engine(), name)
        except Exception:
            layers = None
        if layers is None:
            _say(DEFAULT)
            return []
        values, directive = path_completion(layers, path)
        _say(directive)
        return [f"{name}:{v}" for v in values]
    if incomplete.startswith(("/", ".", "~")):
        _say(DEFAULT)
        return []
    names = container_names(incomplete)
    _say(NO_SPACE if names else DEFAULT)
    return [f"{n}:" for n in names]
