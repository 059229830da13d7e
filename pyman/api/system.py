"""_ping, version, info."""

from __future__ import annotations

import os
import platform
import socket

from aiohttp import web

from pyman import __version__
from pyman.api.common import API_VERSION, MIN_API_VERSION, blocking, engine

HEADERS = {"API-Version": API_VERSION, "Docker-Experimental": "false",
           "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
           "Libpod-API-Version": __version__}


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="OK" if request.method == "GET" else "", headers=HEADERS)


async def version(request: web.Request) -> web.Response:
    uname = os.uname()
    return web.json_response({
        "Platform": {"Name": "pyman"},
        "Components": [{"Name": "Podman Engine", "Version": __version__,
                        "Details": {"APIVersion": API_VERSION,
                                    "MinAPIVersion": MIN_API_VERSION}}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
        "Os": "linux", "Arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(
            uname.machine, uname.machine),
        "KernelVersion": uname.release, "BuildTime": "", "Experimental": False,
    }, headers=HEADERS)


async def info(request: web.Request) -> web.Response:
    eng = engine(request)

    def counts() -> tuple[int, int, int, int]:
        items = eng.containers.summaries(all_=True)
        running = sum(c.status == "running" for c in items)
        paused = sum(c.status == "paused" for c in items)
        return len(items), running, paused, len(eng.images.store.all())

    total, running, paused, images = await blocking(counts)
    uname = os.uname()
    return web.json_response({
        "ID": "", "Containers": total, "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": total - running - paused,
        "Images": images, "Driver": eng.paths.driver or "overlay",
        "DockerRootDir": str(eng.paths.data), "Name": socket.gethostname(),
        "OperatingSystem": "linux", "OSType": "linux", "Architecture": uname.machine,
        "KernelVersion": uname.release, "NCPU": os.cpu_count() or 1,
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "ServerVersion": __version__, "SecurityOptions": ["name=rootless"],
        "CgroupDriver": "cgroupfs", "Runtimes": {}, "Labels": [], "Warnings": [],
    }, headers=HEADERS)
