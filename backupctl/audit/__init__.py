"""The tamper-evident audit log of every action (statement 7.2, 11.8): docs/audit.md."""
