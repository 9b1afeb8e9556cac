"""The denial matrix of restores: each case its own test, each refused (exit 4) and recorded.

In-process against a real restic repository (tests/fixtures/restore_env.py); the actions take
the acting identity as a parameter, the CLI passes identity.current().
"""

from __future__ import annotations

import datetime
import json
import pathlib
import sqlite3

import pytest

from backupctl import access, state
from backupctl.actions import restore as actions
from backupctl.actions import restore_run
from backupctl.audit import log
from backupctl.errors import ExitCode, RefusedError
from backupctl.keys import signing
from backupctl.restore import gate, model

LATER = datetime.timedelta(hours=25)


@pytest.fixture
def config(restore_env):
    return restore_env.config()


@pytest.fixture
def case(restore_env, request):
    """A fresh destination name per test."""
    return str(restore_env.root / "restores" / request.node.name[:40])


def _request(restore_env, config, destination, *, who="alice", now=None, **changes):
    return actions.request(
        config,
        restore_env.spec(destination=destination, **changes),
        actor=restore_env.actor(who),
        signer=restore_env.signer(who),
        now=now,
    )


def _approve(restore_env, config, request_id, who="bob", now=None):
    return actions.approve(
        config, request_id, actor=restore_env.actor(who), signer=restore_env.signer(who), now=now
    )


def _last_refusal(config) -> log.Record:
    records = list(log.records(state.db_path(config.state_dir)))
    return next(r for r in reversed(records) if r.action == "restore.refused")


def _refused(call, config, *, containing: str) -> log.Record:
    before = len(list(log.records(state.db_path(config.state_dir))))
    with pytest.raises((RefusedError, access.AccessDenied)) as caught:
        call()
    assert caught.value.exit_code == ExitCode.REFUSED
    assert containing in str(caught.value)
    record = _last_refusal(config)
    assert record.seq > before, "the refusal left no audit record"
    assert containing in record.details["reason"]
    return record


def _rewrite(config, sql: str, *params) -> None:
    with sqlite3.connect(state.db_path(config.state_dir)) as connection:
        connection.execute(sql, params)


def test_wrong_role_cannot_request(restore_env, config, case):
    record = _refused(
        lambda: _request(restore_env, config, case, who="bob"),
        config,
        containing="bob lacks the role restore-requester",
    )
    assert record.outcome == "denied"


def test_role_for_another_tenant_cannot_request(restore_env, config, case):
    _refused(
        lambda: _request(restore_env, config, case, who="erin"),
        config,
        containing="erin lacks the role restore-requester for tenant customer-7",
    )


def test_requester_cannot_approve(restore_env, config, case):
    body = _request(restore_env, config, case)
    _refused(
        lambda: _approve(restore_env, config, body.id, who="alice"),
        config,
        containing="alice lacks the role approver",
    )


def test_self_approval_is_refused(restore_env, config, case):
    body = _request(restore_env, config, case, who="frank")
    _refused(
        lambda: _approve(restore_env, config, body.id, who="frank"),
        config,
        containing="frank may not decide their own request",
    )


def test_unapproved_request_does_not_run(restore_env, config, case):
    body = _request(restore_env, config, case)
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="0 valid approval(s) of the 1 needed",
    )


def test_expired_request_cannot_be_approved(restore_env, config, case):
    past = datetime.datetime.now(datetime.UTC) - LATER
    body = _request(restore_env, config, case, now=past)
    _refused(lambda: _approve(restore_env, config, body.id), config, containing="expired")
    assert actions.show(config, body.id, actor=restore_env.actor("dave")).status == "expired"


def test_expired_approval_does_not_run(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    later = datetime.datetime.now(datetime.UTC) + LATER
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice"), now=later),
        config,
        containing="expired",
    )


def test_approval_is_single_use(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    restore_run.run(config, body.id, actor=restore_env.actor("alice"))
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="run already",
    )


def test_single_use_holds_when_the_status_column_is_reset(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    restore_run.run(config, body.id, actor=restore_env.actor("alice"))
    _rewrite(config, "UPDATE restore_requests SET status = 'approved' WHERE id = ?", body.id)
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="run already",
    )


def test_only_the_requester_runs_it(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("frank")),
        config,
        containing="only they may run it",
    )


def _resign_request(restore_env, config, request_id, **changes):
    """The requester (colluding, or root with their key and passphrase) changes the request
    after approval and signs it again: the approval must not carry over."""
    stored = actions.show(config, request_id, actor=restore_env.actor("dave"))
    altered = model.RequestBody(**{**stored.body.__dict__, **changes})
    key_data = restore_env.key_path("alice").read_bytes()
    private = signing.open_private(key_data, restore_env.signer("alice").passphrase(), where="k")
    _rewrite(
        config,
        "UPDATE restore_requests SET body = ?, signature = ? WHERE id = ?",
        altered.canonical().decode(),
        signing.sign(private, altered.canonical()),
        request_id,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("paths", ("/etc",)),
        ("destination", "/elsewhere"),
        ("snapshot", "0" * 64),
    ],
    ids=["path", "destination", "snapshot"],
)
def test_approval_for_another_request_does_not_count(restore_env, config, case, field, value):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    if field == "destination":
        value = case + "-other"
    _resign_request(restore_env, config, body.id, **{field: value})
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="is for another request",
    )


def test_approval_moved_to_another_request_does_not_count(restore_env, config, case):
    first = _request(restore_env, config, case)
    _approve(restore_env, config, first.id)
    second = _request(restore_env, config, case + "-b")
    _rewrite(
        config,
        "INSERT INTO restore_approvals SELECT ?, approver, decision, body, signature, at, reason"
        " FROM restore_approvals WHERE request_id = ?",
        second.id,
        first.id,
    )
    _rewrite(config, "UPDATE restore_requests SET status = 'approved' WHERE id = ?", second.id)
    _refused(
        lambda: restore_run.run(config, second.id, actor=restore_env.actor("alice")),
        config,
        containing="is for another request",
    )


def test_altered_request_fails_its_signature(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    stored = actions.show(config, body.id, actor=restore_env.actor("dave"))
    altered = json.loads(stored.body.canonical())
    altered["paths"] = ["/etc"]
    _rewrite(
        config, "UPDATE restore_requests SET body = ? WHERE id = ?", json.dumps(altered), body.id
    )
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="forged or altered",
    )


def test_forged_approval_signature_is_refused(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    forged = signing.sign(signing.Ed25519PrivateKey.generate(), b"anything")
    _rewrite(
        config, "UPDATE restore_approvals SET signature = ? WHERE request_id = ?", forged, body.id
    )
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="signature of bob does not match",
    )


def test_unregistered_key_cannot_sign(restore_env, config, case):
    restore_env.enroll("gina", register=False)
    _refused(
        lambda: _request(restore_env, config, case, who="gina"),
        config,
        containing="is not the registered key of gina",
    )


def test_revoked_approver_key_no_longer_counts(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id, who="carol")
    from backupctl.actions import staff

    staff.revoke(config, actor=restore_env.actor("root"), account="carol", reason="left")
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="was revoked",
    )
    restore_env.key_path("carol").unlink()
    restore_env.enroll("carol")  # later tests may use carol again


def test_wrong_passphrase_cannot_sign(restore_env, config, case):
    with pytest.raises(signing.SigningKeyError, match="wrong passphrase"):
        actions.request(
            config,
            restore_env.spec(destination=case),
            actor=restore_env.actor("alice"),
            signer=restore_env.signer("alice", passphrase="not the passphrase at all"),
        )


def test_destination_outside_the_restore_root_is_refused(restore_env, config):
    _refused(
        lambda: _request(restore_env, config, str(restore_env.root / "elsewhere")),
        config,
        containing="is not below the restore root",
    )


def test_dotdot_in_destination_is_refused(restore_env, config):
    sneaky = str(restore_env.root / "restores" / ".." / "state")
    _refused(lambda: _request(restore_env, config, sneaky), config, containing="'..'")


def test_dotdot_in_snapshot_path_is_refused(restore_env, config, case):
    _refused(
        lambda: _request(restore_env, config, case, paths=("/data/../../etc",)),
        config,
        containing="'..' is not allowed",
    )


def test_symlink_inside_the_restore_root_is_refused(restore_env, config, case, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = restore_env.root / "restores" / "via-link"
    # The restore root is made by the first restore; this test may be the first on its worker.
    link.parent.mkdir(mode=0o700, exist_ok=True)
    link.symlink_to(outside)
    body = _request(restore_env, config, str(link / "case"))
    _approve(restore_env, config, body.id)
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="is a symbolic link",
    )
    assert list(outside.iterdir()) == []


def test_destination_not_empty_is_refused(restore_env, config, case):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    (restore_env.root / "restores").mkdir(exist_ok=True)
    pathlib.Path(case).mkdir()
    (pathlib.Path(case) / "already-here").write_text("x")
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="is not empty",
    )


def test_tenant_that_may_not_be_restored_is_refused(restore_env, config, case, monkeypatch):
    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)
    monkeypatch.setattr(gate, "GATES", [lambda db, tenant: "suspended (unpaid since 2026-08)"])
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="tenant customer-7 may not be restored: suspended",
    )
    _refused(
        lambda: _request(restore_env, config, case + "-2"),
        config,
        containing="may not be restored",
    )


def test_denied_request_never_runs(restore_env, config, case):
    body = _request(restore_env, config, case)
    actions.deny(config, body.id, actor=restore_env.actor("bob"), reason="no ticket match")
    _refused(
        lambda: _approve(restore_env, config, body.id, who="carol"),
        config,
        containing="is denied, not pending",
    )
    _refused(
        lambda: restore_run.run(config, body.id, actor=restore_env.actor("alice")),
        config,
        containing="was denied",
    )


def test_a_path_the_snapshot_does_not_hold_is_refused(restore_env, config, case):
    _refused(
        lambda: _request(restore_env, config, case, paths=("/no/such/dir",)),
        config,
        containing="the snapshot holds no",
    )
    assert "/no/such/dir" not in _last_refusal(config).details["reason"]  # paths stay out


def test_staff_of_another_tenant_cannot_see_a_request(restore_env, config, case):
    body = _request(restore_env, config, case)
    _refused(
        lambda: actions.show(config, body.id, actor=restore_env.actor("erin")),
        config,
        containing="erin lacks the role restore-requester for tenant customer-7",
    )
    listed = actions.list_requests(config, actor=restore_env.actor("erin"))
    assert body.id not in {row["id"] for row in listed}
    assert body.id in {
        row["id"] for row in actions.list_requests(config, actor=restore_env.actor("dave"))
    }


def test_two_runs_at_once_restore_once(restore_env, config, case):
    import concurrent.futures

    body = _request(restore_env, config, case)
    _approve(restore_env, config, body.id)

    def attempt():
        try:
            return restore_run.run(config, body.id, actor=restore_env.actor("alice"))
        except RefusedError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(2)))
    done = [o for o in outcomes if isinstance(o, restore_run.RunResult)]
    refused = [o for o in outcomes if isinstance(o, RefusedError)]
    assert len(done) == 1 and len(refused) == 1
    records = list(log.records(state.db_path(config.state_dir)))
    started = [
        r
        for r in records
        if r.action == "restore.run"
        and r.outcome == "started"
        and r.subjects.get("request") == body.id
    ]
    assert len(started) == 1
