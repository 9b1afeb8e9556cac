"""backupctl: encrypted multi-location backups with restic, and a media recovery workshop."""

__version__ = "0.1.0"
