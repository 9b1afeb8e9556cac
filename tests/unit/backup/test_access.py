"""Staff roles: the pure policy, the [access] config table, and the acting identity."""

from __future__ import annotations

import os
import pathlib

import pytest

from backupctl import access as access_check
from backupctl import config, identity
from backupctl.errors import ConfigError, ExitCode
from policies import access
from policies.access import Role

from .test_config import PATH, good

ALICE = identity.Actor(uid=1001, name="alice", via="loginuid")


def policy_with(**sections: dict) -> access.AccessPolicy:
    raw = good()
    raw["access"] = sections
    return config.parse(raw, PATH).access


def test_without_an_access_table_the_deployment_is_single_operator():
    policy = config.parse(good(), PATH).access
    assert policy.single_operator
    assert access.missing(policy, account="anyone", groups=frozenset(), role=Role.ADMIN) is None


def test_a_grant_gives_only_its_roles_and_only_for_its_tenants():
    policy = policy_with(
        staff={"alice": {"roles": ["restore-requester"], "tenants": ["acme"]}},
        groups={"approvers": {"roles": ["approver"]}},
    )
    assert not policy.single_operator
    no_groups = frozenset()
    allowed = access.missing
    assert allowed(policy, account="alice", groups=no_groups, role=Role.RESTORE_REQUESTER) is None
    assert (
        allowed(
            policy, account="alice", groups=no_groups, role=Role.RESTORE_REQUESTER, tenant="acme"
        )
        is None
    )
    assert allowed(
        policy, account="alice", groups=no_groups, role=Role.RESTORE_REQUESTER, tenant="globex"
    ) == ("alice lacks the role restore-requester for tenant globex")
    assert allowed(policy, account="alice", groups=no_groups, role=Role.APPROVER) == (
        "alice lacks the role approver"
    )
    assert (
        allowed(policy, account="bob", groups=frozenset({"approvers"}), role=Role.APPROVER) is None
    )


def test_require_refuses_with_exit_4_naming_the_missing_role():
    policy = policy_with(staff={"alice": {"roles": ["technician"]}})
    assert access_check.require(policy, Role.TECHNICIAN, actor=ALICE) == ALICE
    with pytest.raises(access_check.AccessDenied, match="alice lacks the role auditor") as caught:
        access_check.require(policy, Role.AUDITOR, actor=ALICE)
    assert caught.value.exit_code == ExitCode.REFUSED


@pytest.mark.parametrize(
    ("sections", "problem"),
    [
        ({"staff": {"alice": {"roles": ["god"]}}}, "access.staff.alice.roles: unknown role 'god'"),
        ({"staff": {"alice": {}}}, "access.staff.alice.roles: required key is missing"),
        ({"staff": {"Alice Smith": {"roles": []}}}, "access.staff.Alice Smith: not a valid"),
        ({"teams": {}}, "access.teams: unknown key"),
        ({"groups": {"ops": {"roles": ["operator"], "tenants": ["a/b"]}}}, "tenants: 'a/b'"),
    ],
)
def test_malformed_access_tables_are_named(sections, problem):
    raw = good()
    raw["access"] = sections
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, PATH)
    assert problem in str(caught.value)


def write_status(proc: pathlib.Path, pid: int, *, name: str, ppid: int, uid: int) -> None:
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    (folder / "status").write_text(
        f"Name:\t{name}\nPPid:\t{ppid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n", encoding="ascii"
    )


def fake_proc(tmp_path: pathlib.Path, loginuid: str) -> pathlib.Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "loginuid").write_text(loginuid, encoding="ascii")
    return proc


def test_the_login_uid_names_the_actor(tmp_path):
    proc = fake_proc(tmp_path, "0")
    actor = identity.current(proc, environ={"SUDO_UID": "4321", "SUDO_USER": "mallory"})
    assert (actor.uid, actor.name, actor.via) == (0, "root", "loginuid")


def test_sudo_user_alone_is_not_trusted(tmp_path):
    proc = fake_proc(tmp_path, "4294967295")  # no login session, and no sudo above us
    actor = identity.current(proc, environ={"SUDO_UID": "4321", "SUDO_USER": "mallory"})
    assert (actor.uid, actor.via) == (os.getuid(), "uid")


def test_sudo_is_believed_when_the_process_tree_confirms_it(tmp_path):
    proc = fake_proc(tmp_path, "4294967295")
    write_status(proc, os.getppid(), name="sudo", ppid=999_999, uid=0)
    write_status(proc, 999_999, name="bash", ppid=1, uid=4321)
    confirmed = identity.current(proc, environ={"SUDO_UID": "4321"})
    assert (confirmed.uid, confirmed.via) == (4321, "sudo")
    assert identity.current(proc, environ={"SUDO_UID": "1234"}).via == "uid"  # claim differs


def test_require_any_accepts_one_of_the_roles_and_names_them_all_when_none():
    policy = policy_with(staff={"alice": {"roles": ["auditor"], "tenants": ["acme"]}})
    roles = (Role.OPERATOR, Role.AUDITOR)
    assert access_check.require_any(policy, roles, actor=ALICE) == ALICE
    assert access_check.require_any(policy, roles, tenant="acme", actor=ALICE) == ALICE
    with pytest.raises(access_check.AccessDenied) as caught:
        access_check.require_any(policy, roles, tenant="globex", actor=ALICE)
    assert "alice lacks the role operator or auditor for tenant globex" in str(caught.value)


def test_a_command_over_sources_is_checked_for_each_of_their_tenants():
    from backupctl.actions import authorize

    raw = good()
    loaded = config.parse(raw, PATH)
    assert authorize.tenants_of(loaded, ()) == ("acme",)  # every source: mail and billing
    assert authorize.tenants_of(loaded, ("mail",)) == ("acme",)
    assert authorize.tenants_of(loaded, None) == (None,)  # a command that takes no sources
    assert authorize.tenants_of(None, ("mail",)) == (None,)  # no config file: single-operator
