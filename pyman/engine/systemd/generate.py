"""`pyman generate systemd`: units for a container, or a pod (its unit and one per member),
from the store; the text is engine/systemd/units.py's.

With --new a unit recreates its container at each start from the command that created it
(Config.CreateCommand): `run` with the flags a service needs (--cidfile, --cgroups=no-conmon,
--rm, --sdnotify=conmon, -d, --replace) in place of the ones that would fight them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyman.config import Paths
from pyman.engine.containers.operations import ContainerService
from pyman.engine.network.modes import default_network
from pyman.engine.systemd.units import (
    CIDFILE,
    ContainerUnit,
    PodUnit,
    UnitOptions,
    container_unit,
    pod_unit,
    quote,
    service_name,
)
from pyman.errors import PymanError
from pyman.storage.containers import ContainerConfig
from pyman.storage.pods import PodConfig

GLOBAL_WITH_VALUE = ("--log-level", "--runtime", "--runtime-flag", "--root", "--runroot",
                     "--storage-driver", "--storage-opt", "--tmpdir", "--events-backend",
                     "--cgroup-manager", "--volumepath")
# run/create flags a --new unit sets itself: dropped from the recorded command (with values)
DROPPED_VALUES = ("--cidfile", "--cgroups", "--conmon-pidfile", "--restart")  # systemd restarts
DROPPED_FLAGS = ("--rm", "--replace", "--detach", "-d")
POD_FLAGS = ("--pod", "--pod-id-file")


@dataclass
class Parsed:
    globals_: list[str]
    options: list[str]  # before the image, the dropped ones gone
    rest: list[str]  # the image and the command
    has_name: bool = False
    has_sdnotify: bool = False
    dropped: list[str] = field(default_factory=list)


def parse_create(argv: list[str], value_flags: set[str], drop_pod: bool) -> Parsed:
    """Split a recorded `[pyman] [globals] [container] run|create OPTIONS IMAGE [ARGS]`.
    ``value_flags``: the run options that take a value (long and short spellings)."""
    words = argv[1:]
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in GLOBAL_WITH_VALUE else 1
    globals_ = words[:i]
    if i < len(words) and words[i] == "container":
        i += 1
    if i >= len(words) or words[i] not in ("run", "create"):
        raise PymanError("the recorded create command is not a run or create command")
    words = words[i + 1:]
    drop_values = DROPPED_VALUES + (POD_FLAGS if drop_pod else ())
    out = Parsed(globals_, [], [])
    j = 0
    while j < len(words):
        word = words[j]
        if word == "--":
            out.rest = words[j + 1:]
            return out
        if not word.startswith("-") or word == "-":
            out.rest = words[j:]
            return out
        takes = 1
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if name in value_flags and "=" not in word:
                takes = 2
            keep = name not in drop_values and name not in DROPPED_FLAGS
            out.has_name |= name == "--name"
            out.has_sdnotify |= name == "--sdnotify"
        else:  # -abc: flags clustered; a value flag takes the rest of the word or the next
            kept = ""
            for k, char in enumerate(word[1:]):
                if f"-{char}" in value_flags:
                    kept += word[1 + k:]
                    if k == len(word) - 2:
                        takes = 2
                    break
                if char != "d":  # -d: the unit's own
                    kept += char
            keep = bool(kept)
            word = "-" + kept
        piece = [word, *words[j + 1:j + takes]]
        if keep:
            out.options += piece
        else:
            out.dropped += piece
        j += takes
    return out


def new_run_command(c: ContainerConfig, executable: str, value_flags: set[str],
                    pod_name: str = "", template: bool = False) -> list[str]:
    """The ExecStart argv of a --new unit (user words quoted for systemd, ours not);
    ``template``: each instance's container is named NAME-%i."""
    if not c.create_command:
        raise PymanError(f'cannot use --new on container "{c.name}": no create command found: '
                         "only works on containers created with the pyman command line")
    p = parse_create(c.create_command, value_flags, drop_pod=bool(pod_name))
    options = [quote(w) for w in p.options]
    if template:  # after quoting: the %i specifier is systemd's to expand
        options = _instance_name(options, quote(c.name))
        p.has_name = True
    cmd = [executable, *map(quote, p.globals_), "run", f"--cidfile={CIDFILE}",
           "--cgroups=no-conmon", "--rm"]
    if pod_name:
        cmd += ["--pod", quote(pod_name)]
    if not p.has_sdnotify:
        cmd.append("--sdnotify=conmon")
    cmd.append("-d")
    if p.has_name:
        cmd.append("--replace")
    return cmd + options + [quote(w) for w in p.rest]


def _instance_name(options: list[str], name: str) -> list[str]:
    """--name X becomes --name X-%i (added when the container was created without one)."""
    out, i = [], 0
    while i < len(options):
        word = options[i]
        if word == "--name" and i + 1 < len(options):
            out += [word, options[i + 1] + "-%i"]
            i += 2
            continue
        out.append(word + "-%i" if word.startswith("--name=") else word)
        i += 1
    if not any(w == "--name" or w.startswith("--name=") for w in options):
        out += ["--name", f"{name}-%i"]
    return out


class SystemdGenerator:
    def __init__(self, containers: ContainerService, opts: UnitOptions,
                 value_flags: set[str]) -> None:
        self.containers = containers
        self.opts = opts
        self.value_flags = value_flags

    def _pid_file(self, cid: str) -> str:
        return f"{self.opts.runtime_dir}/containers/{cid}/monitor.pid"

    def _timeout(self, c: ContainerConfig) -> int:
        if self.opts.stop_timeout is not None:
            return self.opts.stop_timeout
        return 10 if c.stop_timeout is None else c.stop_timeout

    def _container(self, c: ContainerConfig, pod_service: str = "", pod_name: str = ""
                   ) -> ContainerUnit:
        _check_record("container", c.id, c.name)
        if c.restart_policy not in ("", "no") and not self.opts.new:  # --new drops it
            import logging

            logging.getLogger("pyman").warning(
                'Container %s has restart policy "%s" which can lead to issues on shutdown: '
                "consider recreating the container without a restart policy and use "
                "systemd's restart mechanism instead", c.id, c.restart_policy)
        ident = c.name if self.opts.use_name else c.id
        unit = ContainerUnit(
            ident=ident,
            service=service_name(self.opts.container_prefix, self.opts.separator, ident),
            stop_timeout=self._timeout(c), pid_file=self._pid_file(c.id),
            pod_service=pod_service)
        if not self.opts.restart_given and c.restart_policy not in ("", "no"):
            # Podman: the container's own policy, unless-stopped as always, on-failure:N as
            # StartLimitBurst=N
            unit.restart = {"unless-stopped": "always"}.get(c.restart_policy,
                                                            c.restart_policy)
            if c.restart_policy == "on-failure":
                unit.start_limit_burst = c.restart_retries
        if self.opts.new and not c.infra:  # a pod's unit makes its infra with `pod create`
            unit.run_command = new_run_command(c, self.opts.executable, self.value_flags,
                                               pod_name, self.opts.template)
        if self.opts.template:
            unit.service += "@"
        return unit

    def generate(self, key: str) -> dict[str, str]:
        """service name -> unit text, the pod's first."""
        from pyman.errors import ContainerNotFoundError, PodNotFoundError
        from pyman.storage.pods import PodStore

        try:
            pod = PodStore(self.containers.paths.pods).find(key)
        except PodNotFoundError as pod_err:
            try:
                c = self.containers.store.find(key)
            except ContainerNotFoundError as exc:
                raise PymanError(f"{key} does not refer to a container or pod: {pod_err}: "
                                 f"{exc}") from None
            return self._single(c)
        if self.opts.template:
            raise PymanError("--template is not supported for pods")
        _check_record("pod", pod.id, pod.name)
        infra = self.containers.store.find(pod.infra_id)
        ident = pod.name if self.opts.use_name else pod.id
        pod_service = service_name(self.opts.pod_prefix, self.opts.separator, ident)
        members = [self._container(c, pod_service, pod.name)
                   for c in self.containers.store.all() if c.pod == pod.id and not c.infra]
        punit = PodUnit(service=pod_service, infra=self._container(infra),
                        members=sorted(m.service for m in members))
        if self.opts.new:
            punit.pod_name = pod.name
            punit.pid_file = f"%t/{pod_service}.pid"
            punit.create_command = self._pod_create(pod, infra, punit.pid_file)
        out = {pod_service: pod_unit(self.opts, punit)}
        for m in reversed(members):
            out[m.service] = container_unit(self.opts, m)
        return out

    def _single(self, c: ContainerConfig) -> dict[str, str]:
        if c.infra:
            raise PymanError(f"{c.name} is the infra container of a pod: generate the pod's "
                             f"units (pyman generate systemd {c.pod[:12]})")
        unit = self._container(c)
        return {unit.service: container_unit(self.opts, unit)}

    def _pod_create(self, pod: PodConfig, infra: ContainerConfig, pid_file: str
                    ) -> list[str]:
        """`pod create` for a --new pod unit, from the pod's record and its infra's."""
        cmd = [self.opts.executable, "pod", "create", "--infra-conmon-pidfile", pid_file]
        if infra.name != f"{pod.id[:12]}-infra":
            cmd += ["--infra-name", quote(infra.name)]
        if sorted(pod.share) != ["ipc", "net", "uts"]:
            cmd.append("--share=" + quote(",".join(pod.share)))
        if infra.network != default_network()[0]:
            cmd.append("--network=" + quote(infra.network))
        for m in infra.ports:
            n = int(m.get("range") or 1)
            ip = f"{m['host_ip']}:" if m.get("host_ip") else ""
            cmd += ["-p", quote(f"{ip}{_span(m['host_port'], n)}:"
                                f"{_span(m['container_port'], n)}/{m['protocol']}")]
        for key, value in pod.labels.items():
            cmd += ["--label", quote(f"{key}={value}")]
        if pod.hostname and pod.hostname != pod.name:
            cmd += ["--hostname", quote(pod.hostname)]
        return cmd + ["--name", quote(pod.name), "--replace"]


def unit_runtime_dir(paths: Paths) -> str:
    """pyman's runtime dir as a unit names it: the user manager's XDG_RUNTIME_DIR (%t),
    unless storage.conf names a runroot."""
    from pyman.storage_conf import load

    return str(paths.runtime) if load(str(paths.config)).runroot else "%t/pyman"


def _check_record(kind: str, rid: str, name: str) -> None:
    """Names go into unit lines: a record from an older pyman with a name Podman refuses
    (a newline would start a new directive) is refused, never written out."""
    import re

    from pyman.names import NAME_PATTERN, valid_name

    if not re.fullmatch("[0-9a-f]{64}", rid):
        raise PymanError(f"the {kind} record {rid!r} has a damaged id: remove it "
                         f"(pyman {'pod ' if kind == 'pod' else ''}rm -f) and create it again")
    if not valid_name(name):
        fix = (f"pyman rename {rid[:12]} NEWNAME" if kind == "container"
               else f"pyman pod rm -f {rid[:12]} and create it again with a valid name")
        raise PymanError(f"the {kind} {rid[:12]} has the name {name!r}, which pyman no longer "
                         f"accepts (names must match {NAME_PATTERN}): {fix}, then generate "
                         "the units again")


def _span(first: int, n: int) -> str:
    return str(first) if n == 1 else f"{first}-{first + n - 1}"
