"""The tenant commands' actions in-process against a real state database (no location is
touched): roles per tenant, refusals recorded, every change with actor, time and reason, the
audit record in the same transaction, the backup guard, the restore gate and status lines."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from backupctl import access, config, identity, state
from backupctl.actions import tenant as actions
from backupctl.actions import tenant_view
from backupctl.audit import log
from backupctl.errors import ConfigError, ExitCode, RefusedError
from backupctl.restore import gate
from backupctl.tenants import guard

from ..backup.test_config import PATH, good

ADA = identity.Actor(uid=1001, name="ada", via="loginuid")  # admin
OLE = identity.Actor(uid=1002, name="ole", via="loginuid")  # operator, tenant acme only
NOW = datetime.datetime(2026, 11, 29, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def cfg(tmp_path) -> config.Config:
    raw = good()
    raw["sources"]["shop"] = {"paths": ["/srv/shop"], "tenant": "globex", "locations": ["nas"]}
    raw["sources"]["shop"]["allow_single_location"] = "test"
    raw["sources"]["shop"]["allow_no_offsite"] = "test"
    raw["access"] = {
        "staff": {
            "ada": {"roles": ["admin", "operator"]},
            "ole": {"roles": ["operator"], "tenants": ["acme"]},
        }
    }
    parsed = config.parse(raw, PATH)
    return dataclasses.replace(parsed, state_dir=tmp_path / "state")


def _records(cfg, prefix: str = "tenant.") -> list[log.Record]:
    db = state.db_path(cfg.state_dir)
    return [r for r in log.records(db) if r.action.startswith(prefix)]


def test_offboarding_is_recorded_with_actor_time_reason_and_an_audit_record(cfg):
    shown = actions.offboard(
        cfg, "acme", reason="non-payment", effective=datetime.date(2026, 12, 1), actor=ADA, now=NOW
    )
    assert shown.state == "offboarding effective 2026-12-01"
    (change,) = shown.standing.history
    assert (change.actor, change.at, change.reason) == ("ada", NOW, "non-payment")
    (record,) = _records(cfg)
    assert (record.action, record.actor, record.outcome) == ("tenant.offboard", "ada", "ok")
    assert record.subjects == {"tenant": "acme"}
    assert record.details["destruction_due"].startswith("2027-03-01")
    assert shown.sources == ("billing", "mail")


def test_an_operator_may_suspend_only_their_tenant_and_may_not_offboard(cfg):
    actions.suspend(cfg, "acme", reason="incident 12", actor=OLE, now=NOW)
    with pytest.raises(access.AccessDenied) as denied:
        actions.offboard(
            cfg, "acme", reason="cancellation", effective=NOW.date(), actor=OLE, now=NOW
        )
    assert denied.value.exit_code == ExitCode.REFUSED
    assert "ole lacks the role admin for tenant acme" in str(denied.value)
    assert [(r.action, r.outcome) for r in _records(cfg)] == [
        ("tenant.suspend", "ok"),
        ("tenant.offboard", "denied"),
    ]
    assert "incident" not in str(_records(cfg)[0].details)  # typed text: a digest only


def test_a_change_the_state_does_not_allow_is_refused_and_recorded(cfg):
    with pytest.raises(RefusedError, match="no legal hold with reference C-1 stands"):
        actions.release(cfg, "acme", reference="C-1", reason="lifted", actor=ADA, now=NOW)
    (record,) = _records(cfg)
    assert (record.action, record.outcome) == ("tenant.release", "refused")


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda c: actions.suspend(c, "nobody", reason="x", actor=ADA), "unknown tenant 'nobody'"),
        (lambda c: actions.suspend(c, "acme", reason="  ", actor=ADA), "--reason"),
        (
            lambda c: actions.hold(c, "acme", reference="no spaces", reason="x", actor=ADA),
            "--reference",
        ),
        (
            lambda c: actions.offboard(
                c, "acme", reason="cancellation", effective=datetime.date(2099, 1, 1), actor=ADA
            ),
            "more than 366 days ahead",
        ),
    ],
)
def test_malformed_input_is_a_usage_error(cfg, call, problem):
    with pytest.raises(ConfigError, match=problem):
        call(cfg)


def test_backups_of_an_offboarded_tenant_are_refused_when_named_and_left_out_otherwise(cfg):
    actions.offboard(cfg, "acme", reason="cancellation", effective=NOW.date(), actor=ADA, now=NOW)
    sources = list(cfg.sources.values())
    with pytest.raises(guard.TenantOffboarded) as refused:
        guard.sources_to_back_up(cfg, [cfg.sources["mail"]], named=True, now=NOW)
    assert refused.value.exit_code == ExitCode.REFUSED
    assert "mail (tenant acme: offboarded (cancellation) effective 2026-11-29" in str(refused.value)
    kept = guard.sources_to_back_up(cfg, sources, named=False, now=NOW)
    assert [source.name for source in kept] == ["shop"]  # globex's


def test_the_restore_gate_refuses_a_suspended_tenant_and_not_a_held_one(cfg):
    db = state.db_path(cfg.state_dir)
    actions.hold(cfg, "acme", reference="COURT-1", reason="order", actor=ADA)
    assert gate.refusal(db, "acme") is None
    actions.suspend(cfg, "acme", reason="order", actor=ADA)
    assert gate.refusal(db, "acme").startswith("tenant acme may not be restored: suspended since")


def test_status_notes_holds_and_suspensions_and_quiets_an_offboarded_sources_overdue(cfg):
    actions.hold(cfg, "acme", reference="COURT-1", reason="order", actor=ADA, now=NOW)
    actions.offboard(cfg, "acme", reason="cancellation", effective=NOW.date(), actor=ADA, now=NOW)
    lines = tenant_view.status_lines(cfg, now=NOW)
    assert any("legal hold COURT-1" in note for note in lines.notes)
    assert any("offboarded (cancellation) effective 2026-11-29" in n for n in lines.notes)
    assert lines.warnings == ()  # held: destruction is not overdue
    warnings = ("newest backup is 30.0h old; schedule is every 24h", "location x unreachable")
    assert tenant_view.quiet_overdue(lines, "mail", warnings) == ("location x unreachable",)


def test_a_role_limited_to_one_tenant_lists_only_that_tenant(cfg):
    listed = actions.list_tenants(cfg, actor=OLE, now=NOW)
    assert [view.tenant for view in listed] == ["acme"]
    assert [view.tenant for view in actions.list_tenants(cfg, actor=ADA, now=NOW)] == [
        "acme",
        "globex",
    ]


def test_tenant_show_says_whether_an_escrow_was_made_after_the_keys_were_erased(cfg):
    from backupctl.actions import audited
    from backupctl.tenants import store as tenant_store

    db = state.db_path(cfg.state_dir)
    before = actions.show(cfg, "acme", actor=ADA, now=NOW)
    assert "escrow copies made before destruction still hold" in before.escrow
    with audited.transaction(db) as connection:
        erased = tenant_store.ErasedKey("mail", "repo/mail", "2026-11-29T10:00:00+00:00", 3)
        tenant_store.record_erased_key_in(connection, "acme", erased)
    assert "no escrow made since" in actions.show(cfg, "acme", actor=ADA, now=NOW).escrow
    log.append(db, log.Event("keys.escrow", "ada", "ok"), at="2026-11-29T11:00:00+00:00")
    after = actions.show(cfg, "acme", actor=ADA, now=NOW).escrow
    assert "escrow made again 2026-11-29T11:00:00+00:00 without them" in after


def test_rotation_holds_everything_of_a_held_tenant_and_nothing_of_the_others(cfg):
    from backupctl.actions import rotate

    db = state.db_path(cfg.state_dir)
    actions.hold(cfg, "acme", reference="COURT-1", reason="order", actor=ADA, now=NOW)
    (hold,) = rotate.holds_for(cfg.sources["mail"], db)
    assert hold.everything and hold.reason == "legal hold COURT-1 on tenant acme"
    assert rotate.holds_for(cfg.sources["shop"], db) == ()
    actions.release(cfg, "acme", reference="COURT-1", reason="lifted", actor=ADA, now=NOW)
    assert rotate.holds_for(cfg.sources["mail"], db) == ()
