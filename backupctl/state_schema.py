"""The backup side's schema of state.db: one SQL script per version, applied in order by
``state.migrate`` (each component keeps its version in the shared ``schema_version`` table).

Append a new script for a change; never edit one that has shipped. The tables and who writes
them: docs/architecture.md, "State".
"""

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version"
    " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        actor TEXT NOT NULL,
        host TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        exit_code INTEGER,
        tags TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE IF NOT EXISTS run_results (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        step TEXT NOT NULL,            -- 'backup' or 'replicate' or 'init'
        ok INTEGER NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        bytes_added INTEGER NOT NULL DEFAULT 0,
        files_copied INTEGER NOT NULL DEFAULT 0,
        snapshot_id TEXT,
        finished_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS run_results_source ON run_results(source, location);
    """,
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;   -- tells a killed run from one still running
    CREATE TABLE manifest_sources (
        source TEXT PRIMARY KEY,
        established_at TEXT NOT NULL,
        how TEXT NOT NULL,             -- 'init' (restic created it) or 'adopted' (first run)
        location TEXT NOT NULL
    );
    CREATE TABLE manifest_files (
        source TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        deleted_at TEXT,               -- set when the toolkit itself deleted the file
        PRIMARY KEY (source, path)
    );
    CREATE TABLE verify_cursors (
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        last_path TEXT NOT NULL,       -- the sample of the next run starts after this path
        PRIMARY KEY (source, location)
    );
    CREATE TABLE verify_results (
        source TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        checked INTEGER NOT NULL,
        damaged INTEGER NOT NULL,
        repaired INTEGER NOT NULL,
        unrepairable INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE audit_log (           -- backupctl/audit/log.py: hash-linked, append only
        seq INTEGER PRIMARY KEY,       -- 1, 2, 3, ... without gaps
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subjects TEXT NOT NULL,        -- JSON object of ids (source, tenant, job, request, ...)
        outcome TEXT NOT NULL,
        details TEXT NOT NULL,         -- JSON object: counts, sizes, reasons (never file contents)
        prev TEXT NOT NULL,            -- hash of the record before (64 zeros for the first)
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_log_action ON audit_log(action, at);
    """,
    """
    CREATE TABLE audit_checkpoints (   -- backupctl/audit/checkpoint.py: signed heads of the log
        tree_size INTEGER PRIMARY KEY, -- records covered: 1 .. tree_size
        body TEXT NOT NULL,            -- the signed checkpoint, canonical JSON
        signature TEXT NOT NULL,       -- Ed25519 over body, hex
        frontier TEXT NOT NULL         -- JSON: the Merkle subtree roots to extend the tree from
    );
    CREATE TABLE audit_marks (         -- how far a mirror has come (custody ledger position)
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    """,
    # rotation (docs/rotation.md); read and written by backupctl/rotation/records.py
    """
    CREATE TABLE snapshot_records (
        source TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL,     -- when backupctl took it, or first saw it at a location
        how TEXT NOT NULL,             -- 'backup' (took it) or 'seen' (found it at a location)
        location TEXT NOT NULL,
        PRIMARY KEY (source, snapshot_id)
    );
    CREATE TABLE rotation_intents (
        source TEXT PRIMARY KEY,       -- at most one unfinished rotation per source
        run_id INTEGER NOT NULL,
        location TEXT NOT NULL,        -- where forget and prune run
        snapshot_ids TEXT NOT NULL,    -- JSON list: what forget removes there
        stage TEXT NOT NULL,           -- 'forget', 'prune', then 'replicate'
        before_prune TEXT,             -- JSON {path: size}: the location's files before prune
        started_at TEXT NOT NULL
    );
    CREATE TABLE rotation_events (
        run_id INTEGER NOT NULL,
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        step TEXT NOT NULL,            -- 'forget', 'prune', 'delete', 'copy', 'verify'
        ok INTEGER NOT NULL,
        snapshot_ids TEXT NOT NULL DEFAULT '[]',
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        detail TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX rotation_events_run ON rotation_events(run_id);
    CREATE TABLE rotation_pending (
        source TEXT NOT NULL,
        location TEXT NOT NULL,        -- still holds data rotation deleted
        since TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (source, location)
    );
    """,
    """
    CREATE TABLE staff_keys (          -- backupctl/staff: registered Ed25519 public keys
        fingerprint TEXT PRIMARY KEY,  -- sha256:<hex> of the raw public key
        account TEXT NOT NULL,
        public_key TEXT NOT NULL,      -- base64 of the 32 raw bytes
        registered_at TEXT NOT NULL,
        registered_by TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT,
        revoke_reason TEXT
    );
    CREATE INDEX staff_keys_account ON staff_keys(account);
    CREATE TABLE restore_requests (    -- backupctl/restore/store.py
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,            -- canonical JSON the requester signed
        signature TEXT NOT NULL,       -- base64 Ed25519 over body
        requester TEXT NOT NULL,
        source TEXT NOT NULL,
        tenant TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        status TEXT NOT NULL,          -- pending, approved, denied, expired, running, done, failed
        run_by TEXT,
        run_at TEXT,
        break_glass_reason TEXT,       -- set when run without approval by an admin
        acknowledged_by TEXT,          -- the auditor who acknowledged a break-glass restore
        acknowledged_at TEXT,
        result TEXT                    -- JSON: location, files, bytes, manifest path, or reason
    );
    CREATE TABLE restore_approvals (
        request_id TEXT NOT NULL REFERENCES restore_requests(id),
        approver TEXT NOT NULL,
        decision TEXT NOT NULL,        -- approve or deny
        body TEXT NOT NULL,            -- canonical JSON the approver signed ('' for a denial)
        signature TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (request_id, approver)
    );
    """,
    # tenants (docs/tenants.md); read and written by backupctl/tenants/store.py
    """
    CREATE TABLE tenant_events (       -- every change of a tenant's state, append only
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL,            -- offboard, reinstate, hold, release, suspend, resume,
                                       -- destroying, destroyed
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL,          -- cancellation / non-payment, or what the person typed
        reference TEXT,                -- a legal hold's reference
        effective TEXT,                -- offboard: the date backups and restores stop
        run_id INTEGER                 -- destroying, destroyed: the rotate run
    );
    CREATE INDEX tenant_events_tenant ON tenant_events(tenant, id);
    CREATE TABLE tenant_destruction (  -- per source and location: where destruction stands
        tenant TEXT NOT NULL,
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        started_at TEXT NOT NULL,
        run_id INTEGER NOT NULL,       -- the run that last worked here
        finished_at TEXT,              -- NULL: the location still holds data (down, locked)
        removed INTEGER NOT NULL DEFAULT 0,   -- repository files deleted
        bytes INTEGER NOT NULL DEFAULT 0,
        leftovers INTEGER NOT NULL DEFAULT 0, -- other entries removed (locks, directories,
                                              -- S3 noncurrent versions, delete markers)
        checked TEXT NOT NULL DEFAULT '',     -- how "nothing left" was checked
        remaining TEXT NOT NULL DEFAULT '',   -- why it is not finished
        PRIMARY KEY (tenant, source, location)
    );
    CREATE TABLE tenant_erased_keys (  -- keystore entries removed by destruction
        tenant TEXT NOT NULL,
        source TEXT NOT NULL,
        entry TEXT NOT NULL,
        erased_at TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (tenant, entry)
    );
    """,
    # unattended runs (docs/operations.md): check and drill; read and written by
    # backupctl/checking/records.py
    """
    CREATE TABLE check_cursors (
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        slices INTEGER NOT NULL,       -- t of the last subset n/t read
        last_slice INTEGER NOT NULL,   -- n of it: the next run reads n+1 (wrapping)
        PRIMARY KEY (source, location)
    );
    CREATE TABLE check_results (
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        subset TEXT NOT NULL,          -- the --read-data-subset given, 'n/t'
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX check_results_source ON check_results(source, location);
    CREATE TABLE drill_results (
        source TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        snapshot_id TEXT NOT NULL DEFAULT '',
        restored_from TEXT NOT NULL DEFAULT '',   -- location restored from
        compared_with TEXT NOT NULL DEFAULT '',   -- location of the second read
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        mismatched INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT ''            -- never a file name
    );
    CREATE INDEX drill_results_source ON drill_results(source);
    """,
    """
    CREATE TABLE fast_keys (
        source TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,          -- keys/<key_id>: the repository key with cheap scrypt
        made_at TEXT NOT NULL,
        location TEXT NOT NULL,        -- where it was written first (the others get it by copy)
        how TEXT NOT NULL              -- 'made', or 'found' (a key of ours found at a location)
    );
    """,
)
