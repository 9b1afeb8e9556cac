#!/usr/bin/env bash
# Fetch a second restic for the tests: Debian 13 (trixie)'s package, unpacked into
# .cache/restic-trixie/ (gitignored). The system's restic (Debian 12: 0.14) is not touched.
#
# apt runs with a private configuration under .cache/apt-trixie/: its own sources list, package
# lists, cache and an empty dpkg status, so the system's apt state stays as it was. The trixie
# Release file must be signed by a Debian archive key (debian-archive-keyring), and apt checks the
# .deb against the SHA-256 in the signed index. Idempotent: a present, working binary is kept.
# Any failure exits non-zero with a message: CI must never test only one restic version silently.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE="${RESTIC_TEST_SUITE:-trixie}"
MIRROR="${RESTIC_TEST_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
TARGET=".cache/restic-$SUITE"
APT_ROOT="$PWD/.cache/apt-$SUITE"
BINARY="$TARGET/usr/bin/restic"

fail() { echo "fetch-test-restic: $*" >&2; exit 1; }

if [ -x "$BINARY" ] && "$BINARY" version >/dev/null 2>&1; then
  exit 0
fi
[ -r "$KEYRING" ] || fail "$KEYRING is missing (apt-get install debian-archive-keyring)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || fail "needs apt-get and dpkg-deb"

echo "setup: fetching restic from Debian $SUITE into $TARGET"
mkdir -p "$APT_ROOT/lists/partial" "$APT_ROOT/cache/archives/partial" "$APT_ROOT/download"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" > "$APT_ROOT/sources.list"
: > "$APT_ROOT/status"
APT_OPTIONS=(
  -o "Dir::Etc::SourceList=$APT_ROOT/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "Dir::State::Lists=$APT_ROOT/lists"
  -o "Dir::State::status=$APT_ROOT/status"
  -o "Dir::Cache=$APT_ROOT/cache"
  -o "APT::Sandbox::User=root"
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
  -o "Acquire::Retries=3"
)
apt-get "${APT_OPTIONS[@]}" -qq update > "$APT_ROOT/update.log" 2>&1 ||
  { cat "$APT_ROOT/update.log" >&2; fail "apt-get update for $SUITE failed (log above)"; }
# apt-get update only warns about an index it could not verify or fetch; that must fail here.
if grep -Eq "^(W|E):" "$APT_ROOT/update.log"; then
  cat "$APT_ROOT/update.log" >&2
  fail "apt-get update for $SUITE reported problems (log above)"
fi
rm -f "$APT_ROOT"/download/restic_*.deb
(cd "$APT_ROOT/download" && apt-get "${APT_OPTIONS[@]}" -qq download restic) > "$APT_ROOT/download.log" 2>&1 ||
  { cat "$APT_ROOT/download.log" >&2; fail "apt-get download restic from $SUITE failed (log above)"; }
package=("$APT_ROOT"/download/restic_*.deb)
[ -f "${package[0]}" ] || fail "no restic package was downloaded from $SUITE"
rm -rf "$TARGET.partial"
dpkg-deb -x "${package[0]}" "$TARGET.partial" || fail "cannot unpack ${package[0]}"
"$TARGET.partial/usr/bin/restic" version >/dev/null || fail "the unpacked restic does not run"
rm -rf "$TARGET"
mv "$TARGET.partial" "$TARGET"
echo "setup: $("$BINARY" version)"
