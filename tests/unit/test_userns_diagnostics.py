import errno

import pytest

from pyman.rootless import enter


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"/proc/sys/user/max_user_namespaces": "0"}, "sysctl -w user.max_user_namespaces="),
        ({"/proc/sys/kernel/unprivileged_userns_clone": "0"},
         "sysctl -w kernel.unprivileged_userns_clone=1"),
        ({"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1"},
         "kernel.apparmor_restrict_unprivileged_userns=0"),
    ],
)
def test_restricted_user_namespaces_get_the_exact_fix(monkeypatch: pytest.MonkeyPatch,
                                                      files: dict[str, str], expected: str) -> None:
    monkeypatch.setattr(enter, "_read", lambda path: files.get(path))
    err = enter.explain_unshare_error(OSError(errno.EPERM, "unshare"))
    assert expected in str(err)
    assert "\n" not in str(err)


def test_namespace_limit_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enter, "_read", lambda path: None)
    err = enter.explain_unshare_error(OSError(errno.ENOSPC, "unshare"))
    assert "max_user_namespaces" in str(err)
