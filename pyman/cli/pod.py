"""pyman pod: create, ps, inspect, start, stop, kill, pause, unpause, restart, rm, logs,
top, stats, exists, prune."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyman.cli import complete_values as cv

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyman.engine.pods import PodService, PodSummary
    from pyman.errors import PymanError

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage pods.")
app.add_typer(group, name="pod")


def _pods() -> PodService:
    from pyman.cli.context import engine as make_engine

    return make_engine().pods


@group.command("create", context_settings=CTX)
def create(
    pod_name: Annotated[str | None, typer.Argument(metavar="NAME",
                                                   help="Name of the pod (or --name).")
                        ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the pod.")] = None,
    infra: Annotated[bool, typer.Option(
        "--infra/--no-infra", help="Create an infra container to hold the namespaces the "
        "members share (--infra=false: they share none).")] = True,
    publish: Annotated[list[str] | None, typer.Option(
        "--publish", "-p", help="[ip:][hostPort:]containerPort[/tcp|/udp] for the pod.")
                       ] = None,
    network: Annotated[str | None, typer.Option(
        "--network", "--net", help="pasta, slirp4netns, host or none.",
        autocompletion=cv.networks)] = None,
    share: Annotated[str | None, typer.Option(
        "--share", help="Namespaces the members share: ipc,net,uts (the default).")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="key=value.")
                     ] = None,
    hostname: Annotated[str | None, typer.Option("--hostname", help="The pod's hostname.")
                        ] = None,
    infra_name: Annotated[str | None, typer.Option(
        "--infra-name", help="Name of the infra container.")] = None,
    infra_pidfile: Annotated[str | None, typer.Option(
        "--infra-conmon-pidfile", help="Write the infra's monitor pid here at each start.")
                             ] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Remove a pod of the same name first.")] = False,
    infra_image: Annotated[str | None, typer.Option(
        "--infra-image", help="The infra container's image (default: containers.conf's "
        "infra_image, else pyman's pause image).")] = None,
    infra_command: Annotated[str | None, typer.Option(
        "--infra-command", help="The infra container's command (its entrypoint).")] = None,
    pod_id_file: Annotated[str | None, typer.Option(
        "--pod-id-file", help="Write the pod's id to this file.")] = None,
    add_host: Annotated[list[str] | None, typer.Option(
        "--add-host", help="host:ip for the pod's /etc/hosts.")] = None,
    dns: Annotated[list[str] | None, typer.Option("--dns", help="DNS servers.")] = None,
    dns_search: Annotated[list[str] | None, typer.Option(
        "--dns-search", help="DNS search domains.")] = None,
    dns_option: Annotated[list[str] | None, typer.Option(
        "--dns-option", "--dns-opt", help="DNS options.")] = None,
    exit_policy: Annotated[str, typer.Option(
        "--exit-policy", help="continue, or stop: the pod stops when its last container "
        "exits.")] = "continue",
) -> None:
    """Create a new, empty pod."""
    from pyman.engine.pods import PodCreateOptions
    from pyman.errors import PymanError

    if pod_name and name:
        raise PymanError("cannot specify --name and NAME at the same time")
    name = name or pod_name
    if network == "private":  # Podman's name for a network of the pod's own
        network = None
    if replace and not name:
        raise typer.BadParameter("cannot replace pod without --name being set")
    labels = dict(item.partition("=")[::2] for item in label or [])
    pod = _pods().create(PodCreateOptions(name=name, publish=list(publish or []),
                                          network=network, share=share, labels=labels,
                                          hostname=hostname, infra_name=infra_name,
                                          infra_pidfile=infra_pidfile, replace=replace,
                                          exit_policy=exit_policy, infra_image=infra_image,
                                          infra_command=infra_command, infra=infra,
                                          add_host=list(add_host or []), dns=list(dns or []),
                                          dns_search=list(dns_search or []),
                                          dns_option=list(dns_option or [])))
    if pod_id_file:
        with open(pod_id_file, "w", encoding="ascii") as f:
            f.write(pod.id)
    print(pod.id)


def _ps_json(s: PodSummary) -> dict[str, Any]:
    from pyman.engine.containers.inspect import rfc3339

    return {"Containers": [{"Id": c.id, "Names": c.name, "Status": c.status}
                           for c in s.containers],
            "Created": rfc3339(s.created), "Id": s.id, "InfraId": s.infra_id,
            "Name": s.name, "Namespace": "", "Networks": [], "Status": s.status,
            "Labels": s.labels}


POD_FILTERS = ("id", "name", "label", "status", "ctr-ids", "ctr-names", "ctr-number",
               "ctr-status")


def _pod_matches(s: PodSummary, wanted: dict[str, list[str]]) -> bool:
    """Podman's pod ps filters: values of one key ORed, keys ANDed."""
    import re

    members = s.containers
    for key, values in wanted.items():
        if key == "id":
            ok = any(s.id.startswith(v) for v in values)
        elif key == "name":
            ok = any(re.search(v, s.name) for v in values)
        elif key == "label":
            ok = all(k in s.labels and (not eq or s.labels[k] == v)
                     for k, eq, v in (x.partition("=") for x in values))
        elif key == "status":
            ok = s.status.lower() in [v.lower() for v in values]
        elif key == "ctr-ids":
            ok = any(c.id.startswith(v) for v in values for c in members)
        elif key == "ctr-names":
            ok = any(re.search(v, c.name) for v in values for c in members)
        elif key == "ctr-number":
            ok = str(len(members)) in values
        else:  # ctr-status
            ok = any(c.status in values for c in members)
        if not ok:
            return False
    return True


def ps(
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="id=, name=, label=, status=, ctr-ids=, ctr-names=, "
        "ctr-number=, ctr-status=")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only ids.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Full ids.")] = False,
    format_: Annotated[str | None, typer.Option("--format", help="json or a Go template.",
                                                autocompletion=cv.formats)
                       ] = None,
    noheading: Annotated[bool, typer.Option("--noheading", help="Do not print headers.")
                         ] = False,
) -> None:
    """List pods."""
    from pyman.cli.humanize import ago, table
    from pyman.errors import PymanError

    wanted: dict[str, list[str]] = {}
    for item in filters or []:
        key, eq, value = item.partition("=")
        if key not in POD_FILTERS or not eq:
            raise PymanError(f"{key} is an invalid filter")
        wanted.setdefault(key, []).append(value)
    pods = [s for s in _pods().summaries() if _pod_matches(s, wanted)]
    if quiet:
        for s in pods:
            print(s.id if no_trunc else s.id[:12])
        return
    if format_ == "json":
        print(json.dumps([_ps_json(s) for s in pods], indent=2))
        return
    now = time.time()
    if format_:
        from pyman.cli.template import Template

        tpl = Template(format_)
        for s in pods:
            row = _ps_json(s)
            row.update({"ID": s.id if no_trunc else s.id[:12], "NumberOfContainers":
                        len(s.containers), "InfraID": s.infra_id[:12]})
            print(tpl.render(row))
        return
    rows = [[s.id if no_trunc else s.id[:12], s.name, s.status, ago(s.created, now),
             s.infra_id if no_trunc else s.infra_id[:12], str(len(s.containers))]
            for s in pods]
    text = table(["POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "# OF CONTAINERS"], rows)
    if noheading:
        text = "\n".join(text.splitlines()[1:])
    if text:
        print(text)


for _alias in ("ps", "ls", "list"):
    group.command(_alias, context_settings=CTX)(ps)


@group.command("inspect", context_settings=CTX)
def inspect(
    pods: Annotated[list[str], typer.Argument(help="Pods.", autocompletion=cv.pods)],
    format_: Annotated[str | None, typer.Option("--format", "-f", help="A Go template.")
                       ] = None,
) -> None:
    """Show a pod's configuration and state."""
    service = _pods()
    docs = [service.inspect(key) for key in pods]
    if format_:
        from pyman.cli.template import Template

        tpl = Template(format_)
        for doc in docs:
            print(tpl.render(doc))
        return
    # Podman 4.3 prints one pod as an object, several as a list
    print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=5))


def _each(keys: list[str] | None, all_: bool, action: Any,
          exit_code: Callable[[PymanError], int] | None = None) -> None:
    """Run ``action(key)`` for each pod; print its id; exit with the last failure's code
    (``exit_code``: the command's own for an error) after all."""
    from pyman.errors import PymanError

    service = _pods()
    if all_:
        keys = [s.id for s in service.summaries()]
        if not keys:  # nothing to act on is no error (Podman: `pod rm --all` on none)
            return
    if not keys:
        raise typer.BadParameter("requires at least one pod name or id, or --all")
    failed = 0
    for key in keys:
        try:
            done = action(service, key)
            if done:  # "": --ignore passed over a missing pod
                print(done)
        except PymanError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            failed = exit_code(exc) if exit_code is not None else exc.exit_code
    if failed:
        raise typer.Exit(failed)


@group.command("start", context_settings=CTX)
def start(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
) -> None:
    """Start pods: the infra container, then the members."""
    _each(pods, all_, lambda s, k: s.start(k))


@group.command("kill", context_settings=CTX)
def kill(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
    sig: Annotated[str, typer.Option("--signal", "-s", help="Signal to send (KILL).",
                                     autocompletion=cv.signals)] = "KILL",
) -> None:
    """Send a signal to the running containers of pods"""
    from pyman.engine.specgen.limits import parse_signal

    number = parse_signal(sig)  # a bad signal is refused before any pod is looked up
    _each(pods, all_, lambda s, k: s.kill(k, number))


@group.command("stop", context_settings=CTX)
def stop(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
    time_: Annotated[float, typer.Option("--time", "-t", help="Seconds before SIGKILL.")
                     ] = 10,
    ignore: Annotated[bool, typer.Option(
        "--ignore", "-i", help="A missing pod is no error.")] = False,
    if_no_members_run: Annotated[bool, typer.Option(
        "--if-no-members-run", hidden=True,
        help="The exit policy stop (a member's monitor): only when no member runs.")
    ] = False,
) -> None:
    """Stop pods: the members, then the infra container."""
    if if_no_members_run:
        _each(pods, False, lambda s, k: s.stop_if_no_members_run(k, time_))
        return
    _each(pods, all_, lambda s, k: s.stop(k, time_, ignore))


@group.command("restart", context_settings=CTX)
def restart(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
) -> None:
    """Restart pods."""
    _each(pods, all_, lambda s, k: s.restart(k))


@group.command("rm", context_settings=CTX)
def rm(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Stop running containers.")
                     ] = False,
    time_: Annotated[float, typer.Option("--time", "-t", help="Seconds before SIGKILL.")
                     ] = 10,
    ignore: Annotated[bool, typer.Option(
        "--ignore", "-i", help="A missing pod is no error.")] = False,
) -> None:
    """Remove pods and their containers."""
    from pyman.errors import PodNotFoundError

    def remove(s: PodService, key: str) -> str:
        return s.remove(key, force, time_, ignore or force)  # Podman: --force too

    # as Podman: a missing pod is exit 1, not an engine error
    _each(pods, all_, remove, lambda e: 1 if isinstance(e, PodNotFoundError) else e.exit_code)


@group.command("exists", context_settings=CTX)
def exists(pod: Annotated[str, typer.Argument(help="Pod.", autocompletion=cv.pods)]) -> None:
    """Exit 0 if the pod exists, 1 if not."""
    from pyman.errors import PodNotFoundError

    try:
        _pods().find(pod)
    except PodNotFoundError:
        raise typer.Exit(1) from None


@group.command("prune", context_settings=CTX)
def prune(
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask.")] = False,
) -> None:
    """Remove pods with no running containers."""
    if not force:
        answer = input("WARNING! This will remove all stopped/exited pods..\n"
                       "Are you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return
    for pid in _pods().prune():
        print(pid)


@group.command("logs", context_settings=CTX)
def logs(
    pod: Annotated[str, typer.Argument(help="Pod.", autocompletion=cv.pods)],
    container: Annotated[str | None, typer.Option(
        "--container", "-c", help="Only this member's log.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow the output.")
                      ] = False,
    tail: Annotated[int, typer.Option("--tail", help="Only the last N lines (-1: all).")
                    ] = -1,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show timestamps.")
                          ] = False,
) -> None:
    """The logs of a pod's containers, each line after its container's id."""
    from pyman.engine.containers.logs import LogReader
    from pyman.errors import PymanError

    service = _pods()
    s = service.get(pod)
    members = [c for c in s.containers if c.id != s.infra_id]
    if container:
        members = [c for c in members if container in (c.id, c.name) or
                   c.id.startswith(container)]
        if not members:
            raise PymanError(f"container {container} is not in pod {s.name}")
    prefix = container is None
    ctrs = service.containers
    readers = [(c, LogReader(ctrs.log_file(ctrs.find(c.id)))) for c in members]
    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    first = True
    at_start: dict[tuple[str, str], bool] = {}
    while True:
        running = follow and any(service.containers.live_state(c.id).status in
                                 ("running", "starting") for c, _ in readers)
        for c, reader in readers:
            for ts, stream, full, text in reader.read(tail=tail if first else -1):
                line = b""
                if at_start.get((c.id, stream), True):  # a line's partial entries: once
                    line = (c.id[:12].encode() + b" ") if prefix else b""
                    if timestamps:
                        line += ts.replace("+00:00", "Z").encode() + b" "
                out[stream].write(line + text + (b"\n" if full else b""))
                at_start[(c.id, stream)] = full
        sys.stdout.flush()
        sys.stderr.flush()
        first = False
        if not running:  # read once more after the last one stopped: nothing is lost
            break
        time.sleep(0.2)


@group.command("pause", context_settings=CTX)
def pause(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
) -> None:
    """Pause one or more pods."""
    _each(pods, all_, lambda s, k: s.pause(k, True))


@group.command("unpause", context_settings=CTX)
def unpause(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
) -> None:
    """Unpause one or more pods."""
    _each(pods, all_, lambda s, k: s.pause(k, False))


@group.command("top", context_settings={**CTX, "allow_interspersed_args": False})
def top(
    pod: Annotated[str, typer.Argument(help="Pod.", autocompletion=cv.pods)],
    descriptors: Annotated[list[str] | None, typer.Argument(
        help="Format descriptors, as `pyman top` takes them.")] = None,
) -> None:
    """Display the running processes of containers in a pod."""
    from pyman.engine.containers.top import parse_descriptors, tabulate
    from pyman.errors import PymanError

    wanted = parse_descriptors(list(descriptors or []))
    if wanted is None:
        raise PymanError("pod top takes psgo's format descriptors only (user, pid, ppid, "
                         "pcpu, etime, tty, time, args, comm, ...): use `pyman top "
                         "CONTAINER` for ps(1) options")
    sys.stdout.write(tabulate(_pods().top(pod, wanted)))


@group.command("stats", context_settings=CTX)
def stats(
    pods: Annotated[list[str] | None, typer.Argument(help="Pods.", autocompletion=cv.pods)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All pods.")] = False,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Show one sample.")
                         ] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="json or a Go template.")
                   ] = None,
) -> None:
    """Display a live stream of resource usage statistics for the containers in one or
    more pods."""
    _pods().stats(list(pods or []))
