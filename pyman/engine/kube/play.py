"""`pyman kube play` and `kube down`: the plan kube_yaml makes, carried out as pods.

All or nothing: the file is checked whole and the images are pulled before anything is made;
if a pod, a container or a volume cannot be made, what this play made is removed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyman.engine.kube.spec import KubeContainer, KubePlan, KubePod, plan
from pyman.engine.types import RunOptions
from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine import Engine
    from pyman.engine.images.operations import PullEvents
    from pyman.storage.images import ImageRecord


@dataclass
class PlayedPod:
    id: str
    name: str
    containers: list[str] = field(default_factory=list)


@dataclass
class PlayReport:
    pods: list[PlayedPod] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


@dataclass
class DownReport:
    stopped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def read(path: str) -> tuple[str, str]:
    """The file's text and the name errors use (``-``: stdin)."""
    import sys

    if path == "-":
        return sys.stdin.read(), "stdin"
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except OSError as exc:
        raise PymanError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PymanError(f"{path}: not a text (UTF-8) file") from None


def play(engine: Engine, path: str, *, start: bool = True,
         events: PullEvents | None = None, replace: bool = False) -> PlayReport:
    text, source = read(path)
    kube = plan(text, source)
    _check_names(kube)  # before --replace removes anything
    if replace:  # --replace: the file's pods go first (its volumes stay, as with down)
        _remove_pods(engine, kube)
    _check_free(engine, kube)
    images = {}
    for pod in kube.pods:  # every image before anything is made
        for c in pod.containers:
            images[(c.image, c.pull)] = engine.images.get_or_pull(c.image, c.pull, events)
    report = PlayReport()
    made_volumes: list[str] = []
    try:
        for claim in kube.claims:
            if not engine.volumes.exists(claim):
                engine.volumes.create(claim)
                made_volumes.append(claim)
            report.volumes.append(claim)
        for pod in kube.pods:
            report.pods.append(_make_pod(engine, pod, images, report))
        if start:
            for played in report.pods:
                engine.pods.start(played.id)
    except BaseException:
        for played in reversed(report.pods):
            try:
                engine.pods.remove(played.id, force=True)
            except PymanError:
                pass
        for name in made_volumes:
            try:
                engine.volumes.remove(name, force=True)
            except PymanError:
                pass
        raise
    return report


def _check_names(kube: KubePlan) -> None:
    """Every name the file would make, checked before anything is made (Podman's rule)."""
    from pyman.names import check_name, check_volume_name

    for claim in kube.claims:
        check_volume_name(claim)
    for pod in kube.pods:
        check_name(pod.name, "running pod create option")
        for c in pod.containers:
            check_name(f"{pod.name}-{c.name}", "running container create option")


def _check_free(engine: Engine, kube: KubePlan) -> None:
    taken = {p.name for p in engine.pods.store.all()}
    for pod in kube.pods:
        if pod.name in taken:
            raise PymanError(f"pod {pod.name!r} already exists: remove it first (pyman kube "
                             "down FILE or pyman pod rm -f NAME)")


def _make_pod(engine: Engine, pod: KubePod, images: dict[tuple[str, str], ImageRecord],
              report: PlayReport) -> PlayedPod:
    from pyman.engine.pods import PodCreateOptions

    # as Podman's play kube: the pod stops once its containers have exited
    cfg = engine.pods.create(PodCreateOptions(name=pod.name, publish=pod.publish,
                                              hostname=pod.hostname, exit_policy="stop"))
    played = PlayedPod(cfg.id, cfg.name)
    report.pods.append(played)  # removed again if a container fails below
    for c in pod.containers:
        opts = run_options(pod, c)
        image = images[(c.image, c.pull)]
        played.containers.append(engine.containers.create(opts, image).id)
    report.pods.pop()
    return played


def run_options(pod: KubePod, c: KubeContainer) -> RunOptions:
    command = list(c.args or [])
    entrypoint: str | None = None
    if c.entrypoint is not None:  # command: the whole process; args follow it
        command = [*c.entrypoint[1:], *command]
        entrypoint = c.entrypoint[0] if c.entrypoint else ""
    opts = RunOptions(image=c.image, command=command, name=f"{pod.name}-{c.name}",
                      env=list(c.env), workdir=c.workdir, entrypoint=entrypoint, user=c.user,
                      pull="never", cap_add=list(c.cap_add), cap_drop=list(c.cap_drop),
                      privileged=c.privileged, read_only=c.read_only,
                      security_opt=["no-new-privileges"] if c.no_new_privileges else [],
                      pod=pod.name, detach=True, restart=pod.restart)
    opts.volumes, opts.tmpfs = list(c.volumes), list(c.tmpfs)
    return opts


def down(engine: Engine, path: str) -> DownReport:
    text, source = read(path)
    return _remove_pods(engine, plan(text, source))


def _remove_pods(engine: Engine, kube: KubePlan) -> DownReport:
    from pyman.errors import PodNotFoundError

    report = DownReport()
    for pod in kube.pods:
        try:
            cfg = engine.pods.store.find(pod.name)
        except PodNotFoundError:
            continue
        engine.pods.stop(cfg.id)
        report.stopped.append(cfg.id)
        engine.pods.remove(cfg.id, force=True)
        report.removed.append(cfg.id)
    return report
