"""Pure parts of the restic runner: where the password flag goes and which environment restic
gets."""

from __future__ import annotations

import pytest

from backupctl.restic import execute, exitcodes

ARGV = ("/usr/bin/restic", "backup", "--repo", "/r", "--json", "--", "/--password-file", "/data")


def test_with_password_file_goes_right_after_the_subcommand_before_the_paths():
    argv = execute.with_password_file(ARGV, 7)
    assert argv == (
        "/usr/bin/restic",
        "backup",
        "--password-file",
        "/dev/fd/7",
        "--repo",
        "/r",
        "--json",
        "--",
        "/--password-file",
        "/data",
    )
    assert argv.index("--password-file") < argv.index("--")


def test_with_password_file_without_a_password_leaves_argv_unchanged():
    assert execute.with_password_file(ARGV, None) == ARGV


def test_with_password_file_on_an_argv_without_paths():
    assert execute.with_password_file(("restic", "init", "--repo", "/r"), 3) == (
        "restic",
        "init",
        "--password-file",
        "/dev/fd/3",
        "--repo",
        "/r",
    )


CALLER_SECRETS = {
    "RESTIC_PASSWORD": "hunter2",
    "RESTIC_PASSWORD_FILE": "/root/pw",
    "RESTIC_REPOSITORY": "/evil",
    "RESTIC_PASSWORD_COMMAND": "cat /root/pw",
    "RESTIC_CACHE_DIR": "/tmp/c",
    "AWS_ACCESS_KEY_ID": "AKIA",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t",
    "AWS_PROFILE": "prod",
    "AWS_SESSION_TOKEN": "tok",
    "B2_ACCOUNT_KEY": "b2",
    "GOOGLE_APPLICATION_CREDENTIALS": "/g",
}


def test_build_environment_never_passes_callers_restic_or_aws_variables(monkeypatch):
    for name, value in CALLER_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", "/root")
    monkeypatch.setenv("LANG", "C.UTF-8")
    environment = execute.build_environment({})
    assert not set(CALLER_SECRETS) & set(environment)
    assert not any(name.startswith(("RESTIC_", "AWS_")) for name in environment)
    assert environment["HOME"] == "/root" and environment["LANG"] == "C.UTF-8"
    assert set(environment) <= set(execute.PASSED_ENVIRONMENT)


def test_build_environment_uses_the_locations_own_variables(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "callers-key")
    environment = execute.build_environment(
        {"AWS_ACCESS_KEY_ID": "location-key", "AWS_SECRET_ACCESS_KEY": "location-secret"}
    )
    assert environment["AWS_ACCESS_KEY_ID"] == "location-key"
    assert environment["AWS_SECRET_ACCESS_KEY"] == "location-secret"


def test_build_environment_supplies_a_path_when_the_caller_has_none(monkeypatch):
    monkeypatch.delenv("PATH", raising=False)
    assert "/usr/bin" in execute.build_environment({})["PATH"].split(":")
    monkeypatch.setenv("PATH", "/opt/restic/bin")
    assert execute.build_environment({})["PATH"] == "/opt/restic/bin"


@pytest.mark.parametrize(("outcome", "ok"), [
    (exitcodes.Outcome.OK, True), (exitcodes.Outcome.INCOMPLETE, True),
    (exitcodes.Outcome.FAILED, False), (exitcodes.Outcome.LOCKED, False),
    (exitcodes.Outcome.INTERRUPTED, False),
])  # fmt: skip
def test_result_ok_only_when_a_snapshot_was_made(outcome, ok):
    result = execute.Result(0, outcome, "", "Fatal: repository is already locked\n")
    assert result.ok is ok
    assert result.reason().startswith(outcome.value)


def test_a_restic_binary_that_cannot_start_is_a_clear_error(tmp_path):
    import pytest as _pytest

    from backupctl.restic import execute as _execute

    with _pytest.raises(_execute.ResticNotRunnable, match="cannot run"):
        _execute.run((str(tmp_path / "missing-restic"), "version"), password=None)
