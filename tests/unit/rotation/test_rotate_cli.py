"""`backupctl rotate` options: --as-of is for planning only; a malformed time is a usage error;
step progress is periodic."""

from __future__ import annotations

from click.testing import CliRunner

from backupctl.cli import main
from backupctl.rotation.progress import PeriodicSteps


def test_as_of_without_dry_run_is_refused_before_anything_runs(tmp_path):
    result = CliRunner().invoke(
        main.cli, ["--config", str(tmp_path / "none.toml"), "rotate", "--as-of", "2027-01-01"]
    )
    assert result.exit_code == 2
    assert "--as-of only plans" in result.output


def test_a_malformed_as_of_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        main.cli, ["--config", str(tmp_path / "n.toml"), "rotate", "--dry-run", "--as-of", "soon"]
    )
    assert result.exit_code == 2
    assert "expected an ISO 8601 date" in result.output


def test_rotate_help_names_the_promise_and_exit_codes():
    result = CliRunner().invoke(main.cli, ["rotate", "--help"])
    assert result.exit_code == 0
    assert "maximum age" in result.output and "--dry-run" in result.output
    assert "still holding expired data" in result.output


def test_step_progress_sends_start_end_and_at_most_one_line_per_interval():
    sent = []
    clock = iter([0.0, 1.0, 2.0, 11.0, 11.0, 12.0]).__next__  # one reading per look
    steps = PeriodicSteps(lambda event, fields: sent.append((event, fields)), clock=clock)
    steps.step_started("mail", "disk", "prune")  # t=0
    steps.step_line("mail", "loading indexes...")  # t=1: too soon
    steps.step_line("mail", "rebuilding index")  # t=2: too soon
    steps.step_line("mail", "removing 2 old packs")  # t=11: due
    steps.step_finished("mail", "disk", "prune")
    assert [event for event, _ in sent] == [
        "rotation-step-started",
        "rotation-step-progress",
        "rotation-step-finished",
    ]
    assert sent[1][1] == {"source": "mail", "restic": "removing 2 old packs"}
