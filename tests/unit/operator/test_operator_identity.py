"""The operator starts under a uid with no passwd entry (the image's USER 10001)."""

from __future__ import annotations

import os

import pytest

from modelplane.operator.identity import operator_identity

NO_PASSWD_UID = 54321  # no entry in this machine's /etc/passwd, like 10001 in the image


def test_pod_name_wins() -> None:
    assert operator_identity({"POD_NAME": "op-7d9f", "USER": "x"}, 0, "h") == "op-7d9f"


def test_user_from_environment() -> None:
    assert operator_identity({"USER": "ana"}, 12345, "box") == "ana@box"


def test_uid_without_passwd_entry_gets_a_name() -> None:
    assert operator_identity({}, NO_PASSWD_UID, "box") == f"uid-{NO_PASSWD_UID}@box"


def test_kopf_default_fails_without_passwd_entry_ours_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The crash the image met: no USER/LOGNAME in the env and no passwd entry for the uid."""
    import pwd

    from kopf._core.engines.peering import detect_own_id

    from modelplane.operator.identity import current_identity

    for key in ("POD_NAME", "POD_ID", "LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(key, raising=False)

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.raises(KeyError, match="uid not found"):
        detect_own_id(manual=False)
    assert current_identity().startswith(f"uid-{os.getuid()}@")
