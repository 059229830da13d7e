"""`pyman build`: a Containerfile's stages, step by step, each step a new image state
(engine/build/state.py), RUN/COPY/ADD through real build containers (engine/build/containers.py),
with the layer cache: a step whose key is known is not run again.

Output is Buildah's (what Podman prints): `STEP n/m: ...`, `--> Using cache <id>`, `--> <id>`,
`COMMIT <name>`, `Successfully tagged <name>`, the image id last.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyman.build.parser import Containerfile, Instruction, expand, key_values, parse, split_words
from pyman.build.plan import PROXY_ARGS, Plan, Stage, check_platform, make_plan, predefined_args
from pyman.engine.build.state import State, StateStore, now, scratch
from pyman.errors import Interrupted, PymanError, StepFailed

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    from pyman.build.ignore import Matcher
    from pyman.engine import Engine
    from pyman.engine.build.containers import Containers
    from pyman.storage.images import ImageRecord


@dataclass
class BuildOptions:
    context: str  # the context directory (already prepared: build_context.py)
    containerfile: str  # its text
    file_name: str = "Containerfile"  # as errors name it
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: str = "missing"  # always | missing | never | newer
    layers: bool = True
    squash: bool = False
    squash_all: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    network: str | None = None
    volumes: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    ignorefile: str | None = None
    fmt: str = "oci"
    platform: str | None = None
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_option: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    ulimit: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    output: Any = None  # where RUN steps write (a binary file object); None: our stdout
    jobs: int = 1  # stages built at once (Podman's --jobs; its default is 1 too)
    tls_verify: bool | None = None  # pulls of FROM / COPY --from images
    authfile: str | None = None


Say = Callable[[str], None]


class Builder:
    def __init__(self, engine: Engine, opts: BuildOptions, say: Say | None = None,
                 events: Any = None, warn: Say | None = None) -> None:
        """``say`` takes the progress lines (STEP, -->, COMMIT), ``warn`` the warnings,
        ``events`` a base image's pull progress; left out, nothing is said."""
        from pyman.build.ignore import load

        self.engine, self.opts, self.events = engine, opts, events
        self.say: Say = say or (lambda line: None)
        self.warn: Say = warn or (lambda line: None)
        self.states = StateStore(engine.paths)
        self._ctrs: Containers | None = None
        self.matcher: Matcher = load(opts.context, opts.ignorefile)
        self.stage_states: dict[int, State] = {}
        self.stage_bases: dict[int, tuple[str, str]] = {}  # the image a stage starts from
        self.records: dict[str, ImageRecord] = {}
        self.plan_stages: list[Stage] = []
        self.final = -1  # the stage that becomes the image
        self.base_layers: dict[int, int] = {}  # per stage: what --squash keeps as it is
        self._lock = threading.Lock()  # --jobs: one pull and one container set-up at a time

    @property
    def ctrs(self) -> Containers:
        """The build's containers; made (and those of dead builds removed) only when a step
        needs one: a build served by the cache runs no container code at all."""
        with self._lock:
            if self._ctrs is None:
                from pyman.engine.build.containers import Containers, remove_stale

                remove_stale(self.engine)
                self._ctrs = Containers(self.engine, self.opts)
            return self._ctrs

    # -- the whole build -------------------------------------------------------------------
    def build(self) -> str:
        o = self.opts
        if o.platform:
            for plat in o.platform.split(","):
                check_platform(plat.strip())
        from pyman.runtime.select import select_runtime

        select_runtime(self.engine.paths, self.engine.runtime)  # a bad --runtime: at once
        cf = parse(o.containerfile, o.file_name)
        plan = make_plan(cf, o.build_args, o.target)
        self.plan_stages = plan.stages
        if plan.unused_args and not o.quiet:
            for name in sorted(plan.unused_args):
                if name not in PROXY_ARGS:
                    self.warn(f"[Warning] one or more build args were not consumed: [{name}]")
        final = self.final = plan.needed[-1]
        if self.opts.jobs != 1 and len(plan.needed) > 1:
            self._parallel(cf, plan)
        else:
            for i in plan.needed:
                self.stage_states[i] = self._stage(cf, plan, plan.stages[i], last=i == final)
        state = self._finish(self.stage_states[final])
        return self._commit(state, self.stage_bases.get(final, ("", "")))

    def _parallel(self, cf: Containerfile, plan: Plan) -> None:
        """--jobs N: each stage starts once the stages it needs are built, up to N at once;
        the first failure is the build's (the stages running then finish first)."""
        from concurrent.futures import ThreadPoolExecutor, wait

        todo = list(plan.needed)
        running: dict[Future[State], int] = {}
        with ThreadPoolExecutor(self.opts.jobs if self.opts.jobs > 0 else len(todo)) as pool:
            try:
                self._schedule(cf, plan, pool, todo, running)
            except Interrupted:  # SIGTERM/SIGINT in this thread: end the other stages now
                for fut in running:
                    fut.cancel()
                while self._ctrs is not None and not all(f.done() for f in running):
                    self._ctrs.kill_running()  # again: a stage may start its next RUN
                    wait(running, timeout=0.2)
                raise

    def _schedule(self, cf: Containerfile, plan: Plan, pool: Executor, todo: list[int],
                  running: dict[Future[State], int]) -> None:
        """Submit each stage once the stages it needs are built, until all are done."""
        from concurrent.futures import FIRST_COMPLETED, wait

        failure: BaseException | None = None
        while todo or running:
            ready = [i for i in todo if plan.stages[i].deps <= set(self.stage_states)]
            for i in ready if failure is None else []:
                todo.remove(i)
                running[pool.submit(self._stage, cf, plan, plan.stages[i],
                                    i == self.final)] = i
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                i = running.pop(fut)
                exc = fut.exception()
                if exc is not None:
                    failure = failure or exc
                else:
                    self.stage_states[i] = fut.result()
        if failure is not None:
            raise failure

    def _stage(self, cf: Containerfile, plan: Plan, stage: Stage, last: bool) -> State:
        state = self._base(stage, plan)
        self.base_layers[stage.index] = len(state.diff_ids)
        steps = list(stage.steps)
        triggers = [t for t in (state.cfg.get("OnBuild") or []) if isinstance(t, str)]
        if triggers:  # ONBUILD of the base: run first, then dropped (never inherited twice)
            state = state.child()
            state.cfg.pop("OnBuild", None)
            extra = parse("\n".join(triggers), f"{cf.name} (ONBUILD of {stage.base})")
            for t in extra.instructions:
                t.line = stage.from_line.line
            steps = extra.instructions + steps
        total = len(steps) + 1
        prefix = f"[{stage.index + 1}/{len(plan.stages)}] " if len(plan.stages) > 1 else ""
        self._say(f"{prefix}STEP 1/{total}: {stage.from_line.original}")
        scope = _Scope(plan, self.opts.build_args, state)
        if self.opts.env:
            state = state.child()
            for e in self.opts.env:
                k, eq, v = e.partition("=")
                _set_env(state, k, v if eq else os.environ.get(k, ""))
            self._save(state)
        for n, inst in enumerate(steps, start=2):
            self._say(f"{prefix}STEP {n}/{total}: {inst.original}")
            try:
                state = self._step(cf, stage, inst, state, scope)
            except Interrupted:
                raise
            except PymanError as exc:
                raise StepFailed(f'building at STEP "{inst.original}": '
                                 f"{cf.name}:{inst.line}: {exc}",
                                 exit_code=exc.exit_code) from None
            if not (last and n == total):
                self._say(f"--> {state.id[:11]}")
        return state

    def _base(self, stage: Stage, plan: Plan) -> State:
        from pyman.build.plan import stage_ref

        by_name: dict[str, Stage] = {s.name: s for s in plan.stages if s.name}
        ref = stage_ref(stage.base, stage.index, by_name)
        if ref is not None:
            self.stage_bases[stage.index] = self.stage_bases.get(ref, ("", ""))
            return self.stage_states[ref]
        if stage.base == "scratch":
            self.stage_bases[stage.index] = ("", "")
            state = scratch()
            self._save(state)
            return state
        rec = self._image(stage.base)
        self.stage_bases[stage.index] = (rec.names[0] if rec.names else stage.base, rec.digest)
        return self.states.from_image(rec)

    def _image(self, name: str) -> ImageRecord:
        from pyman.errors import ImageNotFoundError

        policy = {"true": "always", "false": "missing"}.get(self.opts.pull, self.opts.pull)
        try:
            with self._lock:
                rec = self.engine.images.get_or_pull(name, policy, self.events,
                                                     tls_verify=self.opts.tls_verify,
                                                     authfile=self.opts.authfile)
        except ImageNotFoundError as exc:
            raise PymanError(f"creating build container: {exc}") from None
        self.records[rec.id] = rec
        return rec

    # -- one instruction ---------------------------------------------------------------
    def _step(self, cf: Containerfile, stage: Stage, inst: Instruction, parent: State,
              scope: _Scope) -> State:
        cmd = inst.cmd
        env = scope.env(parent)
        if cmd == "ARG":
            scope.declare(inst, env, cf.escape)
            return parent
        if cmd in ("RUN", "COPY", "ADD"):
            from pyman.engine.build import steps as build_steps

            return build_steps.layer_step(self, cf, inst, parent, scope.args(), env)
        text = inst.original
        key = self.states.key(parent, text, {}, _expand_meta(inst, env, cf.escape))
        cached = self._cached(key)
        if cached is not None:
            return cached
        state = parent.child()
        from pyman.engine.build.meta import apply_meta

        apply_meta(state, inst, env, cf.escape, scope)
        self.history(state, f"/bin/sh -c #(nop) {text}", empty=True)
        return self._store(key, state)

    def history(self, state: State, created_by: str, empty: bool) -> None:
        entry: dict[str, Any] = {"created": now(), "created_by": created_by}
        if empty:
            entry["empty_layer"] = True
        state.config["created"] = entry["created"]
        state.config.setdefault("history", []).append(entry)

    def _cached(self, key: str) -> State | None:
        if self.opts.no_cache or not self.opts.layers:
            return None
        state = self.states.lookup(key)
        if state is not None:
            self._say(f"--> Using cache {state.id}")
        return state

    def _store(self, key: str, state: State) -> State:
        self._save(state)
        self.states.remember(key, state)
        return state

    def _save(self, state: State) -> ImageRecord:
        rec = self.states.save(state)
        self.records[rec.id] = rec
        return rec

    def record(self, state: State) -> ImageRecord:
        """The state as an image record a build container is made from; a state with no
        layer yet (FROM scratch) gets an empty one: an overlay needs a lower dir."""
        rec = self.records.get(state.id) or self._save(state)
        if not rec.layers:
            import copy

            rec = copy.copy(rec)
            rec.layers = [self.states.empty_layer()]
        return rec

    def _say(self, line: str) -> None:
        if not self.opts.quiet:
            self.say(line)

    # -- the end -----------------------------------------------------------------------
    def _finish(self, state: State) -> State:
        o = self.opts
        if o.labels or o.annotations:
            state = state.child()
            if o.labels:
                state.cfg["Labels"] = {**(state.cfg.get("Labels") or {}), **o.labels}
            self._save(state)
        if o.squash or o.squash_all:
            from pyman.engine.build.squash import squash

            keep = 0 if o.squash_all else self.base_layers.get(self.final, 0)
            key = self.states.key(state, f"squash {keep}", {})
            cached = self._cached(key)
            state = cached or self._store(key, squash(self, state, keep))
        return state

    def _commit(self, state: State, base: tuple[str, str]) -> str:
        from pyman.engine.images.operations import tag_name
        from pyman.storage.images import ImageStore

        o = self.opts
        names = [tag_name(t) for t in o.tags]
        self._say("COMMIT " + (o.tags[0] if o.tags else "") if o.tags else "COMMIT")
        # Buildah's manifest annotations: the user's, then the base image's name and digest
        notes = {**o.annotations, "org.opencontainers.image.base.digest": base[1],
                 "org.opencontainers.image.base.name": base[0]}
        rec = self.states.save(state, o.fmt, notes)
        rec.names = names
        store = ImageStore(self.engine.paths.data)
        have = store.find(rec.id)  # a rebuild of the same image: images.json stays as it is
        if have is None or have.digest != rec.digest or not set(names) <= set(have.names):
            store.add(rec, newest_manifest=True)
        self._say(f"--> {rec.id[:11]}")
        for n in names:
            self._say(f"Successfully tagged {n}")
        return rec.id


def _set_env(state: State, key: str, value: str) -> None:
    env = [e for e in state.cfg.get("Env") or [] if e.split("=", 1)[0] != key]
    state.cfg["Env"] = [*env, f"{key}={value}"]


def _expand_meta(inst: Instruction, env: dict[str, str], escape: str) -> str:
    """What a metadata step's cache key needs beyond its text: its expanded value."""
    try:
        return expand(inst.rest, env, escape)
    except PymanError:
        return inst.rest


class _Scope:
    """The build args of a stage: declared by ARG (from --build-arg, the default, or the
    global default before FROM); the predefined ones need no ARG for FROM only."""

    def __init__(self, plan: Plan, build_args: dict[str, str], state: State) -> None:
        self.plan, self.build_args = plan, build_args
        self.declared: dict[str, str] = {}

    def declare(self, inst: Instruction, env: dict[str, str], escape: str) -> None:
        for k, v in key_values(inst.rest, env, "ARG", escape):
            if k in self.build_args:
                self.declared[k] = self.build_args[k]
            elif v != "\0":
                self.declared[k] = v
            elif k in self.plan.global_args:
                self.declared[k] = self.plan.global_args[k]
            elif k in predefined_args():
                self.declared[k] = predefined_args()[k]
            else:
                self.declared[k] = ""

    def args(self) -> dict[str, str]:
        proxies = {k: v for k, v in self.build_args.items() if k in PROXY_ARGS}
        return {**proxies, **self.declared}

    def env(self, state: State) -> dict[str, str]:
        """Variables for expansion: the args, then the image's ENV over them."""
        out = dict(self.args())
        for e in state.cfg.get("Env") or []:
            k, _, v = str(e).partition("=")
            out[k] = v
        return out


def words(inst: Instruction, env: dict[str, str], escape: str) -> list[str]:
    if inst.json_args is not None:
        return [expand(w, env, escape) for w in inst.json_args]
    return split_words(inst.rest, env, escape)


def tmpdir() -> str:
    return tempfile.mkdtemp(prefix="pyman-build-")
