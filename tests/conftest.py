"""Test session set-up. Fixture modules live in tests/fixtures/ and are listed here."""

pytest_plugins = [
    "tests.fixtures.udev",
    "tests.fixtures.loopdev",
    "tests.fixtures.faulty_disk",
    "tests.fixtures.sshd",
    "tests.fixtures.s3server",
    "tests.fixtures.restic_binaries",
    "tests.fixtures.backup_env",
    "tests.fixtures.staff_accounts",
    "tests.fixtures.restore_env",
    "pytester",
]

# udevd and loop devices are global to the machine: tests that use them share one pytest-xdist
# worker (scripts/test.sh runs with --dist loadgroup), the rest spread over the others.
DEVICE_FIXTURES = frozenset({"udevd", "make_loop", "loop_devices_available", "faulty_disk"})


def pytest_collection_modifyitems(config: object, items: list) -> None:
    import pytest

    for item in items:
        uses_devices = DEVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_devices or item.nodeid.startswith("tests/integration/recovery/"):
            item.add_marker(pytest.mark.xdist_group("devices"))
