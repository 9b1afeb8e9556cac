"""The repository's fast key: a second restic key with cheap scrypt parameters, for passwords
backupctl generated (docs/keystore.md, "The repository's fast key")."""
