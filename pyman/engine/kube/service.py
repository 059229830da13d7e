"""`Engine.kube`: play, down and generate Kubernetes YAML, as typed calls."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine import Engine
    from pyman.engine.images.operations import PullEvents
    from pyman.engine.kube.play import DownReport, PlayReport


class KubeService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def play(self, path: str, *, start: bool = True, events: PullEvents | None = None,
             replace: bool = False) -> PlayReport:
        """`kube play PATH` (``-`` reads stdin): the pods, containers and volumes made.
        ``events`` takes the pulls' progress; ``replace`` removes the file's pods first."""
        from pyman.engine.kube.play import play

        return play(self._engine, path, start=start, events=events, replace=replace)

    def down(self, path: str) -> DownReport:
        """`kube down PATH`: the pods stopped and removed."""
        from pyman.engine.kube.play import down

        return down(self._engine, path)

    def generate(self, names: list[str], *, service: bool = False) -> str:
        """`kube generate`: the YAML of a pod or of containers not in a pod; ``service``
        adds a NodePort Service."""
        from pyman.engine.kube.generate import generate

        return generate(self._engine, names, service)
