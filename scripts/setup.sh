#!/usr/bin/env bash
# Install every system and Python package backupctl needs, on a fresh Debian 12 as root.
# Idempotent: a second run only checks. `--test` adds the test and benchmark dependencies and
# a second restic for the tests (scripts/fetch-test-restic.sh, into .cache/restic-trixie).
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

APT_PACKAGES=(
  restic python3 python3-venv python3-dev ca-certificates debian-archive-keyring
  openssh-client openssh-server
  udev fuse3 libfuse3-3 gddrescue
  util-linux fdisk e2fsprogs dosfstools parted kmod sqlite3
  testdisk  # PhotoRec: carving in `media scan`
)
# Test only: headless Chromium renders `job report` for the screenshot test, with a fixed font;
# systemd provides systemd-analyze, which parses the units `schedule install` writes.
if [ "$want_test" = 1 ]; then APT_PACKAGES+=(chromium fonts-dejavu-core systemd); fi
# Test media (tests/fixtures/make_media.py) and the scan benchmark (tsk_recover, PhotoRec alone).
[ "$want_test" = 1 ] && APT_PACKAGES+=(sleuthkit mtools exfatprogs exfat-fuse ntfs-3g genisoimage)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing packages needs root (run as root, or install: ${missing[*]})" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests run against a second restic too (Debian 13's); a failed fetch stops the setup.
if [ "$want_test" = 1 ]; then scripts/fetch-test-restic.sh; fi

VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtual environment $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip > "$VENV/pip-upgrade.log" 2>&1 ||
    { cat "$VENV/pip-upgrade.log" >&2; echo "setup: upgrading pip failed" >&2; exit 1; }
fi
hash="$(sha256sum pyproject.toml | cut -c1-16)"
if [ "$want_test" = 1 ]; then wanted=("$VENV/.installed-test-$hash"); else
  wanted=("$VENV/.installed-base-$hash" "$VENV/.installed-test-$hash"); fi
for stamp in "${wanted[@]}"; do [ -f "$stamp" ] && exit 0; done
extra=""; [ "$want_test" = 1 ] && extra="[test]"
echo "setup: installing backupctl$extra into $VENV"
if ! "$VENV/bin/pip" install -q -e ".$extra" > "$VENV/pip-install.log" 2>&1; then
  cat "$VENV/pip-install.log" >&2
  echo "setup: pip install failed (log above, also in $VENV/pip-install.log)" >&2
  exit 1
fi
rm -f "$VENV"/.installed-*
touch "${wanted[0]}"
