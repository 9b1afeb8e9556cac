"""browse (tree only, recorded, role-checked) and the staff commands through the CLI."""

from __future__ import annotations

import json

import pytest

from backupctl import access, state
from backupctl.actions import browse
from backupctl.audit import log


def test_browse_lists_one_directory_without_contents_and_is_recorded(restore_env):
    config = restore_env.config()
    data = str(restore_env.root / "data")
    listing = browse.browse(
        config, "shop", actor=restore_env.actor("alice"), snapshot=None, path=data + "/dir0"
    )
    names = {node.path for node in listing.nodes}
    assert data + "/dir0/file-0000.bin" in names
    assert all(node.path.startswith(data + "/dir0") for node in listing.nodes)
    record = list(log.records(state.db_path(config.state_dir)))[-1]
    assert (record.action, record.actor, record.subjects["snapshot"]) == (
        "browse",
        "alice",
        listing.snapshot,
    )
    assert "dir0" not in json.dumps(record.details)  # no file names in the log


def test_browse_needs_the_restore_requester_role(restore_env):
    with pytest.raises(access.AccessDenied, match="bob lacks the role restore-requester"):
        browse.browse(
            restore_env.config(), "shop", actor=restore_env.actor("bob"), snapshot=None, path=None
        )


def test_staff_list_and_revoke_through_the_cli(restore_env):
    listed = json.loads(restore_env.backupctl("staff", "list", "--json").stdout)["keys"]
    assert {"alice", "bob"} <= {key["account"] for key in listed if not key["revoked_at"]}
    restore_env.enroll("dave-2", register=False)
    public = restore_env.root / "keys" / "dave-2.pub"
    refused = restore_env.backupctl("staff", "register", "dave", str(public), check=False)
    assert refused.returncode == 4 and "was made for dave-2, not dave" in refused.stderr
    revoked = restore_env.backupctl("staff", "revoke", "dave", "--reason", "left the company")
    assert "revoked sha256:" in revoked.stdout
    again = restore_env.backupctl("staff", "revoke", "dave", "--reason", "x", check=False)
    assert again.returncode == 4 and "no active signing key" in again.stderr
    actions = [r.action for r in log.records(state.db_path(restore_env.config().state_dir))]
    assert actions[-1] == "staff.revoke"


def test_restore_list_and_show_through_the_cli(restore_env):
    from backupctl.actions import restore as actions

    body = actions.request(
        restore_env.config(),
        restore_env.spec(destination=str(restore_env.root / "restores" / "cli-show")),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    listed = json.loads(restore_env.backupctl("restore", "list", "--json").stdout)["requests"]
    assert body.id in {row["id"] for row in listed}
    shown = json.loads(restore_env.backupctl("restore", "show", body.id, "--json").stdout)
    assert (shown["status"], shown["ticket"], shown["approvals"]) == ("pending", "T-1001", [])
    missing = restore_env.backupctl("restore", "show", "nosuchid", check=False)
    assert missing.returncode == 4 and "no restore request" in missing.stderr
