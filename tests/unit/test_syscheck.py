"""system check's pure parts: the install command per distribution, a free sub-id range to
suggest, and the store's filesystem from mountinfo (an NFS home cannot be made here)."""

from __future__ import annotations

from pathlib import Path

from pyman.config import Paths
from pyman.engine.system.check_host import check_store_fs, mount_of
from pyman.rootless.packages import install_command
from pyman.rootless.subid import free_range

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /home rw,relatime shared:2 - nfs4 srv:/home rw,vers=4.2
41 40 0:36 / /home/bob/fast rw shared:3 - xfs /dev/sdb1 rw
42 22 0:37 / /var/lib/ctr rw shared:4 - overlay overlay rw,lowerdir=/a
"""


def test_install_command_per_distribution() -> None:
    assert install_command("uidmap", fam="debian") == "apt-get install uidmap"
    assert install_command("uidmap", fam="fedora") == "dnf install shadow-utils"
    assert install_command("uidmap", fam="arch") == "pacman -S shadow"
    assert install_command("passt", "catatonit", fam="fedora") == "dnf install passt catatonit"


def test_free_range_is_above_every_range() -> None:
    assert free_range("") == "100000-165535"
    assert free_range("a:100000:65536\n") == "196608-262143"
    assert free_range("a:100000:65536\nb:300000:1000\n#c:9000000:1\n") == "327680-393215"


def test_mount_of_takes_the_deepest_mount() -> None:
    assert mount_of("/home/bob/.local/share/pyman", MOUNTINFO) == ("/home", "nfs4")
    assert mount_of("/home/bob/fast/x", MOUNTINFO) == ("/home/bob/fast", "xfs")
    assert mount_of("/homes", MOUNTINFO) == ("/", "ext4")


def _paths(data: str) -> Paths:
    return Paths(data=Path(data), runtime=Path("/run/x"), config=Path("/c/containers"),
                 runtime_base=Path("/run"), runtime_fallback=False)


def test_store_on_nfs_warns_with_the_storage_conf_fix() -> None:
    c = check_store_fs(_paths("/home/bob/.local/share/pyman"), MOUNTINFO)
    assert c.status == "warn" and "nfs4" in c.detail and "rootless_storage_path" in c.detail
    c = check_store_fs(_paths("/var/lib/ctr/pyman"), MOUNTINFO)
    assert c.status == "warn" and "overlay" in c.detail
    assert check_store_fs(_paths("/srv/pyman"), MOUNTINFO).status == "ok"


def test_apparmor_restriction_is_named() -> None:
    """Ubuntu 24.04: unshare succeeds, the mount inside fails; the sysctl says why."""
    from pyman.engine.system.check import check_userns

    probe = {"userns": "", "mount": "EPERM: mount tmpfs: Operation not permitted",
             "overlay": "-"}
    sysctls = {"kernel.apparmor_restrict_unprivileged_userns": "1"}
    c = check_userns(probe, sysctls.get)
    assert c.status == "fail" and "apparmor_restrict_unprivileged_userns=0" in c.detail
    c = check_userns(probe, {}.get)
    assert c.status == "fail" and "security module" in c.detail
    c = check_userns({"userns": "", "mount": "", "overlay": ""},
                     {"user.max_user_namespaces": "15000"}.get)
    assert c.status == "ok" and "15000" in c.detail


def test_migrate_finds_files_of_another_range(tmp_path: Path) -> None:
    import os

    from pyman.engine.system.ops import _foreign

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    mine = [(os.getuid(), 1)], [(os.getgid(), 1)]
    assert not _foreign(tmp_path, *mine)
    other = [(os.getuid() + 100000, 65536)]
    assert _foreign(tmp_path, other, mine[1]) and _foreign(tmp_path, mine[0], other)
