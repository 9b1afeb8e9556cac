"""A configuration with two sources and operations paths in a temporary directory."""

from __future__ import annotations

import pathlib
import sys

import pytest

from backupctl import config

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"

TEMPLATE = """
[backupctl]
state_dir = "{root}/state"
keystore = "{root}/keystore.bin"
master_key_file = "{root}/master.key"

[operations]
unit_dir = "{root}/units"
cron_file = "{root}/cron.d/backupctl"
metrics_file = "{root}/metrics/backupctl.prom"
check_schedule = "daily"

[locations.disk]
kind = "local"
path = "{root}/disk"
country = "NL"
offsite = false

[locations.far]
kind = "local"
path = "{root}/far"
country = "DE"
offsite = true

[locations.other]
kind = "local"
path = "{root}/other"
country = "DE"
offsite = true

[sources.web]
paths = ["/srv/www"]
tenant = "acme"
locations = ["disk", "far"]
schedule = "6h"

[sources.mail]
paths = ["/srv/mail"]
tenant = "acme"
locations = ["disk", "other"]
"""


@pytest.fixture
def schedule_config(tmp_path) -> config.Config:
    for name in ("units", "cron.d", "state"):
        (tmp_path / name).mkdir()
    path = tmp_path / "backupctl.toml"
    path.write_text(TEMPLATE.format(root=tmp_path))
    return config.load(path)
