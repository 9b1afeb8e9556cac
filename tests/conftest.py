"""Test session set-up. Fixture modules live in tests/fixtures/ and are listed here."""

pytest_plugins = [
]
