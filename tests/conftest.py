"""Test session set-up. Fixture modules live in tests/fixtures/ and are listed here."""

pytest_plugins = [
    "tests.fixtures.udev",
    "tests.fixtures.loopdev",
    "tests.fixtures.faulty_disk",
    "tests.fixtures.sshd",
    "tests.fixtures.s3server",
    "tests.fixtures.restic_binaries",
    "tests.fixtures.backup_env",
    "tests.fixtures.restore_env",
    "pytester",
]
