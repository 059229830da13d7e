"""What crosses the engine's boundary: options in, reports out. Plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PullOptions:
    reference: str
    platform: str | None = None  # os/arch[/variant]
    tls_verify: bool | None = None
    quiet: bool = False


@dataclass
class RunOptions:
    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    entrypoint: str | None = None  # None: image's; "": none
    user: str | None = None
    hostname: str | None = None
    network: str | None = None
    rm: bool = False
    detach: bool = False
    interactive: bool = False
    pull: str = "missing"  # always | missing | never | newer


@dataclass
class ImageSummary:
    id: str
    repository: str
    tag: str
    digest: str
    created: str
    size: int
    names: list[str]


@dataclass
class ContainerSummary:
    id: str
    name: str
    image: str
    command: list[str]
    created: float
    status: str  # created | running | exited
    exit_code: int | None
    started_at: float | None
    finished_at: float | None
    pid: int


@dataclass
class RunResult:
    id: str
    exit_code: int | None  # None for a detached run
