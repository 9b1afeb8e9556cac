"""Every command group checks the acting identity's role before it touches anything.

Real accounts (created by the test), real login uids (tests/fixtures/staff_accounts.py): each
refusal names the missing role, exits 4, leaves the state, keystore and locations untouched and
is itself written to the audit log.
"""

from __future__ import annotations

import json
import pathlib
import sqlite3

import pytest

from backupctl.keys import master_secret
from tests.fixtures.staff_accounts import Staff, access_table, run_as


def write_config(root: pathlib.Path, staff: Staff, *, operator_tenants=()) -> pathlib.Path:
    master = root / "master.key"
    master_secret.generate_master_key_file(master)
    (root / "data").mkdir()
    (root / "data" / "file.txt").write_text("customer data\n")
    config = root / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{root / "state"}"\n'
        f'keystore = "{root}/ks.bin"\nmaster_key_file = "{master}"\n'
        f'[locations.a]\nkind = "local"\npath = "{root}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{root}/b"\ncountry = "DE"\noffsite = true\n'
        f'[sources.mail]\npaths = ["{root}/data"]\ntenant = "acme"\nlocations = ["a", "b"]\n'
        f'[sources.web]\npaths = ["{root}/data"]\ntenant = "globex"\nlocations = ["a", "b"]\n'
        + access_table(staff, operator_tenants=operator_tenants)
    )
    return config


@pytest.fixture
def setup(tmp_path, staff_accounts):
    return staff_accounts, write_config(tmp_path, staff_accounts)


def audit_rows(root: pathlib.Path) -> list[tuple[str, str, str, str]]:
    db = root / "state" / "state.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT actor, action, outcome, details FROM audit_log ORDER BY seq"
        ).fetchall()


def assert_refused(result, account: str, roles: str, root: pathlib.Path, action: str) -> None:
    assert result.returncode == 4, result.stderr
    assert f"{account} lacks the role {roles}" in result.stderr
    assert "Traceback" not in result.stderr
    refusals = [row for row in audit_rows(root) if row[2] == "refused"]
    assert refusals and refusals[-1][:3] == (account, action, "refused")
    assert json.loads(refusals[-1][3])["roles_needed"] == roles.split(" for ")[0].split(" or ")


def untouched(root: pathlib.Path) -> None:
    assert not (root / "a").exists() and not (root / "b").exists()
    assert not (root / "ks.bin").exists()


@pytest.mark.parametrize(
    ("command", "roles", "action"),
    [
        (("init",), "operator", "init.run"),
        (("backup", "mail"), "operator", "backup.run"),
        (("verify",), "operator", "verify.run"),
        (("snapshots",), "operator", "snapshots.show"),
    ],
)
def test_backup_commands_need_the_operator(setup, command, roles, action):
    staff, config = setup
    result = run_as(staff.uid("technician"), config, *command)
    assert_refused(result, staff.names["technician"], roles, config.parent, action)
    untouched(config.parent)
    with sqlite3.connect(config.parent / "state" / "state.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)


def test_status_and_history_need_the_operator_or_the_auditor(setup):
    staff, config = setup
    for command, action in ((("status",), "status.show"), (("history",), "history.show")):
        result = run_as(staff.uid("technician"), config, *command)
        assert_refused(
            result, staff.names["technician"], "operator or auditor", config.parent, action
        )
    allowed = run_as(staff.uid("auditor"), config, "history", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout) == {"runs": []}


def test_an_operator_limited_to_a_tenant_cannot_back_up_another(tmp_path, staff_accounts):
    config = write_config(tmp_path, staff_accounts, operator_tenants=("acme",))
    operator = staff_accounts.names["operator"]
    refused = run_as(staff_accounts.uid("operator"), config, "backup", "web")
    assert_refused(refused, operator, "operator for tenant globex", tmp_path, "backup.run")
    everything = run_as(staff_accounts.uid("operator"), config, "backup")  # mail and web
    assert everything.returncode == 4 and "for tenant globex" in everything.stderr
    untouched(tmp_path)


def test_keys_commands_need_the_admin(setup):
    staff, config = setup
    for command, action in ((("keys", "init"), "keys.init"), (("keys", "list"), "keys.list")):
        result = run_as(staff.uid("operator"), config, *command)
        assert_refused(result, staff.names["operator"], "admin", config.parent, action)
    untouched(config.parent)
    created = run_as(staff.uid("admin"), config, "keys", "init")
    assert created.returncode == 0, created.stderr
    assert (config.parent / "ks.bin").exists()
    recorded = [row[:3] for row in audit_rows(config.parent) if row[1] == "keys.init"]
    admin = staff.names["admin"]
    assert recorded[-2:] == [(admin, "keys.init", "started"), (admin, "keys.init", "ok")]


def test_location_commands_need_their_roles(setup):
    staff, config = setup
    technician = staff.names["technician"]
    result = run_as(staff.uid("technician"), config, "location", "audit", "a")
    assert_refused(result, technician, "operator or auditor", config.parent, "location.audit")
    result = run_as(staff.uid("operator"), config, "location", "set-credentials", "a", stdin="k\n")
    assert_refused(
        result, staff.names["operator"], "admin", config.parent, "location.set_credentials"
    )
    untouched(config.parent)


def test_config_validate_needs_a_staff_role(setup):
    staff, config = setup
    result = run_as(staff.uid("nobody"), config, "config", "validate")
    assert_refused(
        result,
        staff.names["nobody"],
        "operator or admin or auditor",
        config.parent,
        "config.validate",
    )
    allowed = run_as(staff.uid("auditor"), config, "config", "validate")
    assert allowed.returncode == 0, allowed.stderr
    assert "access: 4 grant(s)" in allowed.stdout


def test_job_and_media_commands_need_the_technician(setup):
    staff, config = setup
    operator = staff.names["operator"]
    opened = run_as(
        staff.uid("operator"), config, "job", "open", "--customer", "C-1", "--consent", "CF-1"
    )
    assert_refused(opened, operator, "technician", config.parent, "job.open")
    listed = run_as(staff.uid("operator"), config, "media", "list")
    assert_refused(listed, operator, "technician", config.parent, "media.list")
    jobs = run_as(staff.uid("technician"), config, "job", "list", "--json")
    assert jobs.returncode == 0 and json.loads(jobs.stdout) == []  # nothing was opened
    opened = run_as(
        staff.uid("technician"), config, "job", "open", "--customer", "C-1", "--consent", "CF-1"
    )
    assert opened.returncode == 0, opened.stderr
    technician = staff.names["technician"]
    actions = [row[:3] for row in audit_rows(config.parent) if row[0] == technician]
    assert actions[-3:] == [
        (technician, "job.open", "started"),
        (technician, "custody.job.opened", "ok"),
        (technician, "job.open", "ok"),
    ]


def test_audit_commands_need_the_auditor_and_tell_the_story(setup):
    staff, config = setup
    operator, auditor = staff.names["operator"], staff.names["auditor"]
    refused = run_as(staff.uid("operator"), config, "audit", "show")
    assert_refused(refused, operator, "auditor", config.parent, "audit.show")
    alerts = run_as(staff.uid("auditor"), config, "audit", "alerts", "--json")
    assert alerts.returncode == 5, alerts.stderr
    assert [(a["kind"], a["actor"]) for a in json.loads(alerts.stdout)] == [("refused", operator)]
    shown = run_as(staff.uid("auditor"), config, "audit", "show", "--actor", operator, "--json")
    assert [(r["action"], r["outcome"]) for r in json.loads(shown.stdout)] == [
        ("audit.show", "refused")
    ]
    exported = run_as(staff.uid("auditor"), config, "audit", "export", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert (
        exported.stdout.splitlines()[0] == "seq,at,actor,action,outcome,subjects,details,prev,hash"
    )
    verified = run_as(staff.uid("auditor"), config, "audit", "verify", "--json")
    assert json.loads(verified.stdout)["intact"] is True
    assert verified.returncode == 1  # intact, but no backup has anchored a checkpoint yet
    story = [(row[0], row[1], row[2]) for row in audit_rows(config.parent)]
    assert (auditor, "audit.export", "started") in story and (
        auditor,
        "audit.export",
        "ok",
    ) in story
    assert story[-1] == (auditor, "audit.verify", "ok")


def test_a_recorded_command_does_not_run_when_its_record_cannot_be_written(setup):
    staff, config = setup
    shown = run_as(staff.uid("auditor"), config, "history")  # creates the database
    assert shown.returncode == 0, shown.stderr
    with sqlite3.connect(config.parent / "state" / "state.db") as connection:
        connection.execute(
            "CREATE TRIGGER full BEFORE INSERT ON audit_log"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    opened = run_as(
        staff.uid("technician"), config, "job", "open", "--customer", "C-1", "--consent", "CF-1"
    )
    assert opened.returncode == 3 and "cannot write the audit log" in opened.stderr
    jobs = run_as(staff.uid("technician"), config, "job", "list", "--json")
    assert json.loads(jobs.stdout) == []  # the job was never opened
