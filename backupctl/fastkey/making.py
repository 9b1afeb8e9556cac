"""Give a source's repository its fast key once: a restic key file holding the same master key as
the key ``restic init`` calibrated, with cheap scrypt parameters (``keyfile.CHEAP``).

Only for a password backupctl generated (256 random bits): a human password keeps restic's
calibrated key alone. Run under the source's lock by ``init`` and ``backup``, before restic runs:
the calibrated key is opened once (the one slow derivation, about half a second), the new key is
written at the first location holding the repository through its store (the same writer as every
repository file), added to the manifest, and its id recorded in the state database; the copy
(replication) takes it to the other locations like any other repository file, and a location
that is down catches up later. A fast key found at the location (state database lost, or a run
killed between the write and the record) is taken up instead of making another. Nothing here
stops the run: a key that cannot be made is a warning, and restic then opens the calibrated key.
"""

from __future__ import annotations

import datetime
import logging
import pathlib
import socket
from collections.abc import Mapping

from backupctl import errors, identity, reach, state
from backupctl.fastkey import records
from backupctl.keys import store as keystore
from backupctl.keys.secret import Secret
from backupctl.restic import keyfile
from targets.store import RepositoryStore

logger = logging.getLogger(__name__)

USERNAME = "backupctl"  # shown by `restic key list`
MAX_KEY_FILES = 20  # read at most this many key files at a location (restic tries 20 at most)


def ensure(
    db: pathlib.Path,
    source: str,
    reached: reach.Reached,
    password: Secret,
    preference: tuple[str, ...],
) -> reach.Reached:
    """Given a source's reached locations (under its lock), its password and its locations in
    preference order, return the reached value hinting the source's fast key, first making the
    key when no reachable location lists the recorded one. Unchanged for a password backupctl did
    not generate, when no location holds the repository, or when the key cannot be made."""
    if not keystore.is_generated(password):
        return reached
    hint = reached.key_hint
    if hint and any(f"keys/{hint}" in listing for listing in reached.listings.values()):
        return reached
    holders = reached.with_config(preference)
    if not holders:
        return reached
    name = holders[0]
    try:
        key_id, size, made = _find_or_make(reached.stores[name], reached.listings[name], password)
    except Exception as error:
        if not errors.is_expected(error):
            raise
        logger.warning("source %s: no fast key made at %s: %s", source, name, error)
        return reached
    state.add_to_manifest(db, source, {f"keys/{key_id}": size})
    records.remember(
        db,
        source,
        key_id,
        location=name,
        how="made" if made else "found",
        actor=identity.current().name,
    )
    logger.info(
        "source %s: fast key %s %s at %s", source, key_id[:8], "made" if made else "found", name
    )
    return (reached.relisted([name]) if made else reached).hinted(key_id)


def _find_or_make(
    store: RepositoryStore, listing: Mapping[str, int], password: Secret
) -> tuple[str, int, bool]:
    """Given a location's store and listing, return (key id, size, made): a fast key there that
    opens with the password, else a new one written there; raise KeyFileError (WrongPassword:
    no key there opens with it) or TargetError."""
    paths = [
        path
        for path, size in sorted(listing.items())
        if path.startswith("keys/") and size <= keyfile.MAX_KEY_FILE_BYTES
    ][:MAX_KEY_FILES]
    key_files = {
        path.removeprefix("keys/"): store.read(path, limit=keyfile.MAX_KEY_FILE_BYTES)
        for path in paths
    }
    key_files = {name: data for name, data in key_files.items() if keyfile.key_id(data) == name}
    for name, data in key_files.items():
        if _is_cheap(data) and _opens(data, password):
            return name, len(data), False
    master = _master_key(key_files, password)
    data = keyfile.make_key(
        master,
        password.reveal(),
        created=datetime.datetime.now(datetime.UTC),
        username=USERNAME,
        hostname=socket.gethostname(),
    )
    key_id = keyfile.key_id(data)
    store.write(f"keys/{key_id}", data)
    return key_id, len(data), True


def _master_key(key_files: Mapping[str, bytes], password: Secret) -> keyfile.MasterKey:
    """Open the first key file the password opens (restic's calibrated key: the slow part)."""
    for data in key_files.values():
        try:
            return keyfile.open_key(data, password.reveal())
        except keyfile.KeyFileError:
            continue
    raise keyfile.WrongPassword("no key file there opens with the source's password")


def _is_cheap(data: bytes) -> bool:
    try:
        params = keyfile.params_of(data)
    except keyfile.KeyFileError:
        return False
    cheap = keyfile.CHEAP
    return params.n * params.r * params.p <= cheap.n * cheap.r * cheap.p


def _opens(data: bytes, password: Secret) -> bool:
    try:
        keyfile.open_key(data, password.reveal())
    except keyfile.KeyFileError:
        return False
    return True
