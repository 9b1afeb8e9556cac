#!/usr/bin/env bash
# The main job on an embedded default: a sample tree backed up to two local locations, then status.
# Everything lives under $DEMO_DIR (default /tmp/backupctl-demo); run it again for an incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_DIR="${DEMO_DIR:-/tmp/backupctl-demo}"
BACKUPCTL="${VENV:-.venv}/bin/backupctl"
PYTHON="${VENV:-.venv}/bin/python"
mkdir -p "$DEMO_DIR"/{locations/onsite-disk,locations/offsite-disk,sample}
chmod 700 "$DEMO_DIR"

if [ ! -f "$DEMO_DIR/master.key" ]; then  # master-keygen never overwrites (exit 4)
  "$BACKUPCTL" keys master-keygen --out "$DEMO_DIR/master.key"
fi
sed "s#@DEMO_DIR@#$DEMO_DIR#g" scripts/demo-config.toml > "$DEMO_DIR/backupctl.toml"
"$PYTHON" scripts/make_sample_tree.py "$DEMO_DIR/sample"
export BACKUPCTL_CONFIG="$DEMO_DIR/backupctl.toml"

echo "== backupctl config validate"
"$BACKUPCTL" config validate
echo "== backupctl init"
"$BACKUPCTL" init
echo "== backupctl backup"
"$BACKUPCTL" backup
echo "== backupctl verify (every copy read back against its content hash)"
"$BACKUPCTL" verify --sample 100
echo "== backupctl status"
"$BACKUPCTL" status
echo "== backupctl snapshots"
"$BACKUPCTL" snapshots
echo "== backupctl rotate --dry-run (what the 12-month rule keeps and what it would destroy, and why)"
"$BACKUPCTL" rotate --dry-run
echo "== backupctl audit verify (the hash-linked log of every step, against its signed checkpoints)"
"$BACKUPCTL" audit verify
echo
echo "Demo state is in $DEMO_DIR; config: $DEMO_DIR/backupctl.toml. Run 'make demo' again for an incremental backup."
