"""Key material: the Secret type, the master secret, the encrypted keystore, the escrow to the
offline recovery key, the sealed file container they share, and safe file reads and writes.

Every expected failure here is a :class:`backupctl.keys.errors.KeysError` (docs/keystore.md).
"""
