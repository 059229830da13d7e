"""The steps that make a layer: RUN (in a build container), COPY and ADD (a payload unpacked
into one), each keyed for the cache before anything runs; and --squash."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from typing import TYPE_CHECKING, Any

from pyman.build.parser import Instruction, expand
from pyman.engine.build.meta import command, shell_of
from pyman.engine.build.state import State
from pyman.engine.images.import_export import LAYER_TYPE
from pyman.errors import PymanError

if TYPE_CHECKING:
    from pyman.build.parser import Containerfile
    from pyman.engine.build.builder import Builder

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def layer_step(b: Builder, cf: Containerfile, inst: Instruction, parent: State,
               args: dict[str, str], env: dict[str, str]) -> State:
    if inst.cmd == "RUN":
        return _run(b, cf, inst, parent, args)
    return _copy(b, cf, inst, parent, args, env)


def _add_layer(b: Builder, state: State, diff_id: str, size: int, created_by: str) -> None:
    state.layers.append({"mediaType": LAYER_TYPE, "digest": diff_id, "size": size})
    rootfs = state.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs.setdefault("diff_ids", []).append(diff_id)
    b.history(state, created_by, empty=False)


# -- RUN ---------------------------------------------------------------------------------------

def _run_argv(inst: Instruction, state: State) -> list[str]:
    if inst.json_args is not None or not inst.heredocs:
        if not inst.rest:
            raise PymanError("RUN needs a command")
        return command(inst, state)
    only = re.fullmatch(r"<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1", inst.rest.strip())
    if only and len(inst.heredocs) == 1:  # `RUN <<EOF`: the heredoc is the script
        return [*shell_of(state), inst.heredocs[0].body]
    script = inst.rest + "\n" + "".join(h.body + h.name + "\n" for h in inst.heredocs)
    return [*shell_of(state), script]


def _mounts(b: Builder, inst: Instruction, env: dict[str, str]) -> tuple[list[str], str]:
    """RUN --mount=type=cache|bind|tmpfs as run's --mount values; the cache key's part."""
    out, key = [], []
    for spec in inst.flags.get("mount", []):
        fields: dict[str, str] = {}
        flags: list[str] = []
        for part in expand(spec, env).split(","):
            k, eq, v = part.partition("=")
            if eq:
                fields[k.strip().lower()] = v.strip()
            else:
                flags.append(k.strip().lower())
        kind = fields.get("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if not target:
            raise PymanError(f"--mount={spec}: a target is needed (target=/path)")
        ro = "readonly" in flags or "ro" in flags or fields.get("readonly") == "true" \
            or fields.get("ro") == "true"
        if kind == "tmpfs":
            out.append(f"type=tmpfs,destination={target}")
        elif kind == "cache":
            ident = fields.get("id") or target
            d = b.engine.paths.data / "build-cache" / "mounts" / \
                hashlib.sha256(ident.encode()).hexdigest()[:32]
            d.mkdir(parents=True, exist_ok=True)
            out.append(f"type=bind,source={d},destination={target}" + (",ro" if ro else ""))
        elif kind == "bind":
            if fields.get("from"):
                raise PymanError(f"--mount={spec}: from= is not supported yet: COPY --from "
                                 "the stage, or bind from the context")
            src = os.path.normpath(fields.get("source") or fields.get("src") or ".")
            if src.startswith(".."):
                raise PymanError(f"--mount={spec}: the source is outside the build context")
            path = os.path.join(b.opts.context, src.lstrip("/"))
            if not os.path.exists(path):
                raise PymanError(f"--mount={spec}: {src}: no such file or directory in the "
                                 "build context")
            rw = "rw" in flags or fields.get("rw") == "true" or \
                fields.get("readwrite") == "true"
            out.append(f"type=bind,source={path},destination={target}" +
                       ("" if rw else ",ro"))
            key.append(_tree_digest(path))
        elif kind in ("secret", "ssh"):
            raise PymanError(f"--mount=type={kind} is not supported by pyman build yet")
        else:
            raise PymanError(f"--mount={spec}: unknown type {kind!r} (bind, cache or tmpfs)")
    return out, "|".join(key)


def _tree_digest(path: str) -> str:
    h = hashlib.sha256()
    for top, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            h.update(os.path.relpath(full, path).encode() + b"\0")
            try:
                with open(full, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            except OSError:
                continue
    return h.hexdigest()


def _run(b: Builder, cf: Containerfile, inst: Instruction, parent: State,
         args: dict[str, str]) -> State:
    argv = _run_argv(inst, parent)
    network = inst.flag("network")
    if network is not None and network not in ("default", "none", "host"):
        raise PymanError(f"RUN --network={network}: one of default, none, host")
    env = {**args}
    for e in parent.cfg.get("Env") or []:
        env[str(e).split("=", 1)[0]] = str(e).split("=", 1)[1] if "=" in str(e) else ""
    mounts, mount_key = _mounts(b, inst, env)
    key = b.states.key(parent, inst.original, args,
                       "|".join(h.body for h in inst.heredocs) + mount_key)
    cached = b._cached(key)
    if cached is not None:
        return cached
    env_names = {str(e).split("=", 1)[0] for e in parent.cfg.get("Env") or []}
    run_env = [f"{k}={v}" for k, v in args.items() if k not in env_names]
    rec = b.record(parent)
    diff_id, size = b.ctrs.run(
        rec, argv, run_env, str(parent.cfg.get("User") or ""),
        str(parent.cfg.get("WorkingDir") or ""), mounts,
        None if network in (None, "default") else network, inst.original)
    state = parent.child()
    shown = " ".join(argv[len(shell_of(parent)):]) if inst.json_args is None else \
        " ".join(argv)
    prefix = f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in sorted(args.items())) + " " \
        if args else ""
    _add_layer(b, state, diff_id, size, prefix + (
        "/bin/sh -c " + shown if inst.json_args is None else f"/bin/sh -c #(nop) RUN {shown}"))
    return b._store(key, state)


# -- COPY and ADD -------------------------------------------------------------------------------

def _copy(b: Builder, cf: Containerfile, inst: Instruction, parent: State,
          args: dict[str, str], env: dict[str, str]) -> State:
    from pyman.build.parser import split_words
    from pyman.engine.build import copy as build_copy

    what = inst.cmd
    words = [expand(w, env, cf.escape) for w in inst.json_args] \
        if inst.json_args is not None else split_words(inst.rest, env, cf.escape)
    if len(words) < 2:
        raise PymanError(f"{what} needs at least one source and a destination")
    *sources, dest = words
    for s in sources:
        if _URL.match(s):
            if what == "COPY":
                raise PymanError("source can't be a URL for COPY")
            if not build_copy.is_url(s) or inst.flag("from"):
                raise PymanError(f"ADD {s}: only http:// and https:// URLs can be added "
                                 "(and not with --from)")
    chmod = inst.flag("chmod")
    mode = None
    if chmod:
        if not re.fullmatch(r"[0-7]{3,4}", chmod):
            raise PymanError(f"--chmod={chmod}: an octal mode is expected (e.g. 0755)")
        mode = int(chmod, 8)
    chown = expand(inst.flag("chown") or "", env) or None
    from_ = inst.flag("from")
    workdir = str(parent.cfg.get("WorkingDir") or "/")
    tmp = b.engine.paths.data / "build-cache" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_TMPFILE | os.O_RDWR, 0o600)
    here = None
    try:
        if from_:  # keyed by what the source is: nothing read on a cache hit
            src_state = _from_state(b, cf, inst, expand(from_, env))
            key = b.states.key(parent, inst.original, {},
                               f"from:{src_state.id}|{sources}|{dest}|{chown}|{chmod}")
            cached = b._cached(key)
            if cached is not None:
                return cached
            b.ctrs.read(b.record(src_state), sources, fd, mode, what)
            summary = _summary_of(fd)
        else:
            root = b.opts.context
            excluded: Any = b.matcher.excluded
            walk_dir: Any = b.matcher.walk_dir
            if inst.heredocs:
                here = _heredoc_dir(inst, sources, env)
                root, excluded, walk_dir = here, None, None
            with os.fdopen(os.dup(fd), "wb") as out:
                payload = build_copy.write_payload(
                    root, sources, out, excluded=excluded, walk_dir=walk_dir, chmod=mode,
                    extract_tars=what == "ADD", what=what)
            key = b.states.key(parent, inst.original, {},
                               f"{payload.digest}|{dest}|{chown}")
            cached = b._cached(key)
            if cached is not None:
                return cached
            summary = _summary(payload.items, payload.digest)
        os.lseek(fd, 0, os.SEEK_SET)
        diff_id, size = b.ctrs.copy(b.record(parent), fd, dest, workdir, chown)
    finally:
        os.close(fd)
        if here:
            shutil.rmtree(here, ignore_errors=True)
    state = parent.child()
    # Buildah's (and Docker's) shape: what was added, summarised, and where
    _add_layer(b, state, diff_id, size, f"/bin/sh -c #(nop) {what} {summary} in {dest} ")
    return b._store(key, state)


def _summary(items: list[dict[str, Any]], digest: str) -> str:
    """`file:<hex>`, `dir:<hex>` or, for several sources, `multi:<hex>`: the digest is of
    what pyman copied (Buildah's is of its own tar stream: the shape is the same)."""
    kind = str(items[0].get("kind", "file")) if len(items) == 1 else "multi"
    return f"{kind}:{digest}"


def _summary_of(fd: int) -> str:
    """The summary of a payload written by a helper (COPY --from): its plan and its bytes."""
    import json
    import tarfile

    from pyman.engine.build.copy import PLAN

    os.lseek(fd, 0, os.SEEK_SET)
    h = hashlib.sha256()
    while chunk := os.read(fd, 1 << 20):
        h.update(chunk)
    os.lseek(fd, 0, os.SEEK_SET)
    items: list[dict[str, Any]] = [{}]
    with os.fdopen(os.dup(fd), "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tf:
        first = tf.next()
        f = tf.extractfile(first) if first is not None and first.name == PLAN else None
        if f is not None:
            items = json.loads(f.read()) or [{}]
    return _summary(items, h.hexdigest())


def _heredoc_dir(inst: Instruction, sources: list[str], env: dict[str, str]) -> str:
    from pyman.engine.build.builder import tmpdir

    d = tmpdir()
    docs = {h.name: h for h in inst.heredocs}
    for i, s in enumerate(sources):
        m = re.fullmatch(r"<<-?([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1", s)
        if not m or m.group(2) not in docs:
            raise PymanError(f"{inst.cmd}: heredoc sources cannot be mixed with files from "
                             "the context in one instruction")
        h = docs[m.group(2)]
        with open(os.path.join(d, h.name), "w", encoding="utf-8") as f:
            f.write(expand(h.body, env) if h.expand else h.body)
        os.chmod(os.path.join(d, h.name), 0o644)
        sources[i] = h.name
    return d


def _from_state(b: Builder, cf: Containerfile, inst: Instruction, name: str) -> State:
    from pyman.build.plan import stage_ref

    stages = getattr(b, "plan_stages", None)
    by_name: dict[str, Any] = {s.name: s for s in stages or [] if s.name}
    current = next((s.index for s in stages or [] if inst in s.steps), len(stages or []))
    ref = stage_ref(name, current, by_name)
    if ref is not None:
        return b.stage_states[ref]
    try:
        rec = b._image(name)
    except PymanError as exc:
        raise PymanError(f"{inst.cmd} --from={name}: no stage or image found with that name "
                         f"({exc})") from None
    return b.states.from_image(rec)
