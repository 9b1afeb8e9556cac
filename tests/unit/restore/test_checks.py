"""The pure gate of restores (backupctl/restore/checks.py), model bytes and tree checks."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from backupctl.keys import signing
from backupctl.restic.restoring import Node, parse_ls
from backupctl.restore import checks, model, tree
from backupctl.staff.registry import StaffKey

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)
KEYS = {name: Ed25519PrivateKey.generate() for name in ("alice", "bob", "carol")}


def _fingerprint(name: str) -> str:
    return signing.fingerprint(signing.public_of(KEYS[name]))


REGISTERED = {
    _fingerprint(name): StaffKey(name, _fingerprint(name), signing.public_of(key), "t", "root")
    for name, key in KEYS.items()
}


def _request(**changes) -> model.RequestBody:
    values = dict(
        id="abc123",
        source="shop",
        tenant="acme",
        snapshot="f" * 64,
        paths=("/data/a",),
        destination="/srv/restores/case",
        requester="alice",
        reason="asked",
        ticket="T-1",
        created_at="2026-11-29T11:00:00+00:00",
        expires_at="2026-11-30T11:00:00+00:00",
        key=_fingerprint("alice"),
    )
    values.update(changes)
    return model.RequestBody(**values)


def _approval(request: model.RequestBody, who: str = "bob", **changes) -> checks.StoredApproval:
    body = model.approval_for(
        request,
        approver=who,
        at="2026-11-29T11:30:00+00:00",
        until="2026-11-30T11:30:00+00:00",
        key=_fingerprint(who),
    )
    body = model.ApprovalBody(**{**body.__dict__, **changes})
    return checks.StoredApproval(who, body, signing.sign(KEYS[who], body.canonical()))


def _refusal(request, approvals, *, signature=None, needed=1, now=NOW, approver=lambda n: True):
    return checks.run_refusal(
        request,
        signature or signing.sign(KEYS["alice"], request.canonical()),
        approvals,
        keys=REGISTERED.get,
        now=now,
        needed=needed,
        is_approver=approver,
    )


def test_a_signed_and_approved_request_may_run():
    request = _request()
    assert _refusal(request, [_approval(request)]) is None


def test_two_approvers_needed_one_is_not_enough():
    request = _request()
    assert "1 valid approval(s) of the 2 needed" in _refusal(
        request, [_approval(request)], needed=2
    )
    assert _refusal(request, [_approval(request), _approval(request, "carol")], needed=2) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "other"),
        ("snapshot", "e" * 64),
        ("paths", ("/data/b",)),
        ("destination", "/srv/restores/other"),
        ("requester", "carol"),
        ("expires_at", "2026-12-30T11:00:00+00:00"),
    ],
)
def test_an_approval_covers_each_field(field, value):
    request = _request()
    assert "another" in _refusal(request, [_approval(request, **{field: value})])


def test_self_approval_never_counts():
    request = _request()
    assert "approved their own request" in _refusal(request, [_approval(request, "alice")])


def test_an_approver_who_lost_the_role_no_longer_counts():
    request = _request()
    refusal = _refusal(request, [_approval(request)], approver=lambda name: False)
    assert "no longer holds the approver role" in refusal


def test_an_expired_approval_does_not_count():
    request = _request(expires_at="2026-12-30T00:00:00+00:00")
    later = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    assert "expired" in _refusal(request, [_approval(request)], now=later)


def test_a_signature_by_an_unregistered_key_is_refused():
    stranger = Ed25519PrivateKey.generate()
    request = _request(key=signing.fingerprint(signing.public_of(stranger)))
    signature = signing.sign(stranger, request.canonical())
    assert "is not registered" in _refusal(request, [], signature=signature)


def test_a_key_registered_to_someone_else_is_refused():
    request = _request(key=_fingerprint("bob"))
    signature = signing.sign(KEYS["bob"], request.canonical())
    assert "registered to bob, not alice" in _refusal(request, [], signature=signature)


def test_break_glass_still_needs_the_requesters_signature():
    request = _request()
    forged = signing.sign(KEYS["bob"], request.canonical())
    kwargs = dict(keys=REGISTERED.get, now=NOW, needed=1, is_approver=lambda n: True)
    assert "forged or altered" in checks.run_refusal(
        request, forged, [], break_glass=True, **kwargs
    )
    good = signing.sign(KEYS["alice"], request.canonical())
    assert checks.run_refusal(request, good, [], break_glass=True, **kwargs) is None


@given(st.text(max_size=40))
def test_canonical_bytes_change_with_any_reason(reason):
    assert (_request(reason=reason).canonical() == _request().canonical()) == (reason == "asked")


@pytest.mark.parametrize(
    ("destination", "problem"),
    [
        ("/srv/restores/case", None),
        ("/srv/restores", "not below"),
        ("/srv/restores-evil/x", "not below"),
        ("/srv/restores/../etc", "'..'"),
        ("relative/x", "not an absolute path"),
        ("/etc/x", "not below"),
    ],
)
def test_destination_must_lie_strictly_below_the_root(destination, problem):
    found = checks.destination_problem(destination, "/srv/restores")
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("path", ["data", "/data/../etc", "/a/\n"])
def test_snapshot_paths_refuse_relative_dotdot_and_control(path):
    with pytest.raises(ValueError):
        checks.snapshot_path(path)


@pytest.mark.parametrize(
    "node",
    [
        Node("/data/..", "..", "file", 1),
        Node("/data/x", "../x", "file", 1),
        Node("/data/x", "y", "file", 1),
        Node("/data/./x", "x", "file", 1),
        Node("relative", "relative", "file", 1),
    ],
)
def test_a_forged_listing_that_could_escape_is_caught(node):
    assert tree.escape_problem([Node("/data", "data", "dir", 0), node]) is not None


def test_a_normal_listing_passes():
    lines = [
        '{"id":"' + "a" * 64 + '","struct_type":"snapshot"}',
        '{"name":"data","type":"dir","path":"/data","struct_type":"node"}',
        '{"name":"f","type":"file","path":"/data/f","size":3,"message_type":"node"}',
    ]
    snapshot, nodes = parse_ls(lines)
    assert snapshot == "a" * 64 and tree.escape_problem(nodes) is None
    assert nodes[1].size == 3


def test_differences_find_missing_extra_and_resized_entries():
    expected = (Node("/d", "d", "dir", 0), Node("/d/f", "f", "file", 3))
    assert tree.differences(expected, {"/d": ("dir", 0), "/d/f": ("file", 3)}, ()) == []
    found = tree.differences(
        expected, {"/d": ("dir", 0), "/d/f": ("file", 4), "/x": ("file", 1)}, ()
    )
    assert any("3 bytes in the snapshot, 4 restored" in line for line in found)
    assert any(line.startswith("/x: restored, but not") for line in found)
    assert "not restored" in tree.differences(expected, {"/d": ("dir", 0)}, ())[0]


def test_restore_argv_reads_once_and_asks_for_json_status_where_restic_has_it():
    import pathlib

    from backupctl.restic import commands
    from backupctl.restic.flags import Repository, Restic

    repository = Repository("/repo")
    old = Restic("restic", (0, 14, 0), pathlib.Path("/cache"))
    new = Restic("restic", (0, 18, 0), pathlib.Path("/cache"))
    argv = commands.restore_paths_argv(
        old, repository, "ab" * 32, pathlib.Path("/t"), includes=("/a",)
    )
    assert argv == (
        "restic",
        "restore",
        "--repo",
        "/repo",
        "--cache-dir",
        "/cache",
        "--target",
        "/t",
        "--include",
        "/a",
        "--",
        "ab" * 32,
    )
    # --verify would read every restored file a second time (docs/restore.md: restic checks each
    # blob against its id as it loads it; the manifest's hashing is the one read after restic)
    assert "--verify" in commands.restore_paths_argv(
        old, repository, "ab" * 32, pathlib.Path("/t"), verify=True
    )
    newer = commands.restore_paths_argv(new, repository, "ef" * 32, pathlib.Path("/t"))
    assert "--json" in newer and "--no-lock" not in newer  # a prune must not run under it
    assert "--verbose=2" not in newer
    # restore run asks for a line per restored item (hashed as restic finishes each file)
    items = commands.restore_paths_argv(new, repository, "ef" * 32, pathlib.Path("/t"), items=True)
    assert items[items.index("--json") + 1] == "--verbose=2"
    assert commands.restore_paths_argv(
        old, repository, "ab" * 32, pathlib.Path("/t"), items=True
    ) == commands.restore_paths_argv(old, repository, "ab" * 32, pathlib.Path("/t"))
    assert newer[newer.index("--retry-lock") + 1] == "5m"
    assert commands.ls_argv(old, repository, "cd" * 32) == (
        "restic",
        "ls",
        "--repo",
        "/repo",
        "--cache-dir",
        "/cache",
        "--json",
        "--no-lock",
        "--",
        "cd" * 32,
    )


def test_restore_status_lines_are_parsed():
    from backupctl.restic.restoring import parse_restore_status

    line = '{"message_type":"status","percent_done":0.5,"total_bytes":10,"bytes_restored":5}'
    assert parse_restore_status(line) == (5, 10)
    assert parse_restore_status('{"message_type":"verbose_status"}') is None
    assert parse_restore_status("restoring <Snapshot ...>") is None


def test_a_listing_that_names_one_path_twice_is_caught():
    twice = [
        Node("/d", "d", "dir", 0),
        Node("/d/a", "a", "symlink", 0),
        Node("/d/a", "a", "dir", 0),
    ]
    assert "twice" in tree.escape_problem(twice)


def test_an_approved_request_runs_after_its_own_expiry_while_the_approval_is_valid():
    request = _request(expires_at="2026-11-29T11:45:00+00:00")
    approval = _approval(request)  # valid until 2026-11-30T11:30
    assert _refusal(request, [approval]) is None


@pytest.mark.parametrize("path", ["/srv/*", "/srv/a?", "/srv/x[1]", "/srv/a\\b"])
def test_a_requested_path_with_a_glob_character_is_refused(path):
    # restic --include reads these as a pattern: the restore could hold more than was approved
    with pytest.raises(ValueError, match="are not allowed"):
        checks.snapshot_path(path)
