"""Capability sets, --security-opt parsing and the seccomp profile's conversion to the spec."""

from __future__ import annotations

import json

import pytest

from pyman.engine.specgen.security import parse
from pyman.errors import PymanError
from pyman.runtime import seccomp
from pyman.runtime.capabilities import (
    CAP_NAMES,
    DEFAULT_CAPABILITIES,
    UnknownCapability,
    normalize,
    normalize_all,
    resolve,
)

KNOWN = list(CAP_NAMES)


def test_normalize_names() -> None:
    assert normalize("net_admin") == normalize("CAP_NET_ADMIN") == "CAP_NET_ADMIN"
    assert normalize("all") == "ALL"
    assert normalize_all(["chown,kill", "CHOWN"]) == ["CAP_CHOWN", "CAP_KILL"]
    with pytest.raises(UnknownCapability):
        normalize("bogus")


def test_resolve_rules() -> None:
    assert resolve([], [], known=KNOWN) == sorted(DEFAULT_CAPABILITIES)
    got = resolve(["CAP_SYS_ADMIN"], ["CAP_CHOWN"], known=KNOWN)
    assert "CAP_SYS_ADMIN" in got and "CAP_CHOWN" not in got
    assert resolve(["CAP_KILL"], ["ALL"], known=KNOWN) == ["CAP_KILL"]
    assert resolve(["ALL"], ["CAP_KILL"], known=KNOWN) == sorted(set(KNOWN) - {"CAP_KILL"})
    assert resolve([], [], privileged=True, known=KNOWN[:38]) == sorted(KNOWN[:38])


def test_security_opts() -> None:
    sec = parse(["sys_admin"], [], False, ["label=disable", "no-new-privileges",
                                           "seccomp=unconfined", "unmask=/proc/kcore"])
    assert sec.cap_add == ["CAP_SYS_ADMIN"] and sec.no_new_privileges
    assert sec.seccomp == "unconfined" and sec.unmask == ["/proc/kcore"]
    assert sec.security_opt == ["no-new-privileges", "label=disable", "seccomp=unconfined",
                                "unmask=/proc/kcore"]
    # Podman's older key:value spelling
    assert parse([], [], False, ["no-new-privileges:true"]).no_new_privileges
    assert not parse([], [], False, ["no-new-privileges:false"]).no_new_privileges
    for bad, msg in [("foo", 'invalid --security-opt 1: "foo"'),
                     ("x=y", 'invalid --security-opt 2: "x=y"'),
                     ("mask=relative", "paths must be absolute")]:
        with pytest.raises(PymanError, match=msg):
            parse([], [], False, [bad])
    with pytest.raises(PymanError, match='"CAP_NOPE": unknown capability'):
        parse([], ["nope"], False, [])


def names_of(oci: dict) -> set[str]:  # type: ignore[type-arg]
    return {n for rule in oci.get("syscalls", []) for n in rule["names"]}


def test_default_profile_follows_caps_and_arch() -> None:
    profile = seccomp.load_profile(seccomp.DEFAULT_PROFILE)
    plain = seccomp.to_oci(profile, DEFAULT_CAPABILITIES, machine="x86_64", release="6.1.0")
    assert plain is not None
    assert plain["defaultAction"] == "SCMP_ACT_ALLOW"
    assert plain["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert {"keyctl", "unshare", "mount", "setns", "clone", "clone3", "bpf", "iopl",
            "kexec_load", "open_by_handle_at"} <= names_of(plain)
    assert all(r["errnoRet"] in (1, 38) for r in plain["syscalls"])  # EPERM, clone3 ENOSYS
    clone_args = [r["args"][0] for r in plain["syscalls"] if r["names"] == ["clone"]]
    assert {a["index"] for a in clone_args} == {0}
    assert {a["value"] for a in clone_args} >= {0x10000000, 0x20000000, 0x00020000}

    admin = seccomp.to_oci(profile, [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"],
                           machine="x86_64", release="6.1.0")
    assert admin is not None
    assert not {"unshare", "mount", "clone", "clone3", "bpf"} & names_of(admin)
    assert "keyctl" in names_of(admin)  # the keyring is refused to everyone

    arm = seccomp.to_oci(profile, DEFAULT_CAPABILITIES, machine="aarch64", release="6.1.0")
    assert arm is not None
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "iopl" not in names_of(arm)
    s390 = seccomp.to_oci(profile, DEFAULT_CAPABILITIES, machine="s390x", release="6.1.0")
    assert s390 is not None
    assert {r["args"][0]["index"] for r in s390["syscalls"] if r["names"] == ["clone"]} == {1}


def test_user_profiles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["X"],
                             "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"},
                                          {"names": ["x"], "action": "SCMP_ACT_ALLOW",
                                           "includes": {"minKernel": "99.0"}}]}))
    oci = seccomp.to_oci(seccomp.load_profile(str(p)), [], machine="x86_64", release="6.1")
    assert oci == {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["X"],
                   "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    assert seccomp.to_oci({}, []) is None  # no default action: no filter, as Podman
    p.write_text("[1]")
    with pytest.raises(seccomp.ProfileError):
        seccomp.load_profile(str(p))
