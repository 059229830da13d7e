"""The fields a Docker client may send (API 1.41's structs, HostConfig.Annotations of later
versions, what docker-py still sends of older ones, Podman's compat extras): a body naming
anything else is refused with 400 naming the field, so a typo or a feature pyman does not
know is said, not silently dropped. Names compare as Go's JSON decoding compares them:
case-insensitively."""

from __future__ import annotations

from typing import Any

from pyman.api.errors import BadRequest

CONFIG = """Hostname Domainname User AttachStdin AttachStdout AttachStderr ExposedPorts Tty
OpenStdin StdinOnce Env Cmd Healthcheck ArgsEscaped Image Volumes WorkingDir Entrypoint
NetworkDisabled MacAddress OnBuild Labels StopSignal StopTimeout Shell HostConfig
NetworkingConfig Runtime EnvMerge UnsetEnv UnsetEnvAll"""
HOST_CONFIG = """Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy
AutoRemove VolumeDriver VolumesFrom CapAdd CapDrop CgroupnsMode Dns DnsOptions DnsSearch
ExtraHosts GroupAdd IpcMode Cgroup Links OomScoreAdj PidMode Privileged PublishAllPorts
ReadonlyRootfs SecurityOpt StorageOpt Tmpfs UTSMode UsernsMode ShmSize Sysctls Runtime
ConsoleSize Isolation Mounts MaskedPaths ReadonlyPaths Init Annotations InitPath LxcConf
CpuShares Memory NanoCpus CgroupParent BlkioWeight BlkioWeightDevice BlkioDeviceReadBps
BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod CpuQuota
CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus CpusetMems Devices DeviceCgroupRules
DeviceRequests KernelMemory KernelMemoryTCP MemoryReservation MemorySwap MemorySwappiness
OomKillDisable PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth"""
# Container: the older ExecConfig's (docker-py still sends it)
EXEC_CREATE = """AttachStdin AttachStdout AttachStderr ConsoleSize DetachKeys Tty Env Cmd
Privileged User WorkingDir Detach Container"""
EXEC_START = "Detach Tty ConsoleSize"


def _known(names: str) -> set[str]:
    return {n.lower() for n in names.split()}


_SETS = {"": _known(CONFIG), "HostConfig.": _known(HOST_CONFIG),
         "exec create: ": _known(EXEC_CREATE), "exec start: ": _known(EXEC_START)}


def check(doc: Any, where: str) -> None:
    """``doc`` (a JSON object) names only fields of ``where`` ("", "HostConfig.", ...)."""
    if not isinstance(doc, dict):
        return  # the type is the caller's to refuse, with its own words
    known = _SETS[where]
    for key in doc:
        if str(key).lower() not in known:
            raise BadRequest(f"{where}{key}: unknown field (not in the Docker Engine API "
                             "1.41): remove it or check its spelling")


def check_create(body: Any) -> None:
    check(body, "")
    if isinstance(body, dict):
        # NetworkingConfig is not checked: docker-py 7 sends the networks by name right in
        # it (without EndpointsConfig), and the networks endpoint reads both shapes
        check(body.get("HostConfig"), "HostConfig.")
