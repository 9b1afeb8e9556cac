"""Config loading and validation: every mistake names its key path and what was expected, all at
once."""

from __future__ import annotations

import copy
import pathlib
import textwrap

import pytest

from backupctl import config
from backupctl.errors import ConfigError, ExitCode
from policies import retention

PATH = pathlib.Path("/etc/backupctl/config.toml")

GOOD = {
    "backupctl": {"state_dir": "/srv/state", "master_key_file": "/etc/backupctl/master.key"},
    "locations": {
        "nas": {"kind": "local", "country": "nl", "offsite": False, "path": "/mnt/nas"},
        "remote": {
            "kind": "sftp",
            "country": "DE",
            "offsite": True,
            "host": "backup.example",
            "user": "bk",
            "path": "/repos",
            "identity_file": "/etc/backupctl/id",
            "known_hosts": "/etc/backupctl/known_hosts",
        },
        "bucket": {
            "kind": "s3",
            "country": "DE",
            "offsite": True,
            "provider": "aws",
            "endpoint": "https://s3.eu-central-1.amazonaws.com",
            "bucket": "acme-backups",
            "region": "eu-central-1",
        },
    },
    "policies": {"invoices-7y": {"max_age_days": 2557, "keep_monthly": 84}},
    "sources": {
        "mail": {"paths": ["/var/mail"], "tenant": "acme", "locations": ["nas", "remote"]},
        "billing": {
            "paths": ["/srv/billing", "/srv/invoices"],
            "tenant": "acme",
            "locations": ["nas", "bucket"],
            "retention": "invoices-7y",
            "schedule": "36h",
            "excludes": ["*.tmp"],
            "tags": ["finance"],
        },
    },
}


def good() -> dict:
    return copy.deepcopy(GOOD)


def problems_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, PATH)
    return str(caught.value)


def test_good_config_parses_to_expected_values_and_defaults():
    parsed = config.parse(good(), PATH)
    assert parsed.path == PATH
    assert parsed.state_dir == pathlib.Path("/srv/state")
    assert parsed.keystore_path == pathlib.Path("/etc/backupctl/keystore.bin")
    assert parsed.master_key_file == pathlib.Path("/etc/backupctl/master.key")
    assert parsed.master_key_command is None
    assert parsed.restic_binary == "restic"
    assert parsed.restic_cache_dir == pathlib.Path("/srv/state/restic-cache")
    nas = parsed.locations["nas"]
    assert (nas.kind, nas.country, nas.offsite, nas.provider) == ("local", "NL", False, "own")
    assert nas.settings == {"path": "/mnt/nas"}
    assert parsed.locations["remote"].settings["port"] == 22
    bucket = parsed.locations["bucket"]
    assert bucket.settings["verify_tls"] is True and bucket.settings["prefix"] == ""
    mail = parsed.sources["mail"]
    assert mail.paths == (pathlib.Path("/var/mail"),)
    assert mail.locations == ("nas", "remote")
    assert (mail.retention, mail.schedule, mail.schedule_hours) == ("backup-12m", "daily", 24.0)
    assert (mail.excludes, mail.tags, mail.tenant) == ((), (), "acme")
    assert mail.allow_single_location is None and mail.allow_no_offsite is None
    billing = parsed.sources["billing"]
    assert billing.schedule_hours == 36.0
    assert (billing.excludes, billing.tags) == (("*.tmp",), ("finance",))
    assert parsed.policies["invoices-7y"] == retention.RetentionPolicy(
        name="invoices-7y", max_age_days=2557, keep_monthly=84
    )
    assert parsed.policies["backup-12m"].max_age_days == 365
    assert parsed.source_locations(mail) == (nas, parsed.locations["remote"])


def test_empty_config_uses_global_defaults():
    parsed = config.parse({}, PATH)
    assert parsed.state_dir == pathlib.Path("/var/lib/backupctl")
    assert parsed.restic_cache_dir == pathlib.Path("/var/lib/backupctl/restic-cache")
    assert parsed.sources == {} and parsed.locations == {}


def _set(raw: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    table = raw
    for part in parents:
        table = table.setdefault(part, {})
    if value is DELETE:
        del table[last]
    else:
        table[last] = value
    return raw


class _Delete:
    """Marks a key to remove; a stable repr keeps test ids equal across pytest-xdist workers."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()

# (dotted key to change, new value, text the report must contain)
MISTAKES = [
    (
        "extra",
        {"x": 1},
        "extra: unknown table (known: backupctl, locations, sources, policies, access, operations)",
    ),
    ("backupctl.stat_dir", "/x", "backupctl.stat_dir: unknown key"),
    ("locations.nas.colour", "red", "locations.nas.colour: unknown key"),
    ("locations.remote.password", "x", "locations.remote.password: unknown key"),
    ("locations.bucket.secret_key", "x", "locations.bucket.secret_key: unknown key"),
    ("sources.mail.path", ["/x"], "sources.mail.path: unknown key"),
    ("policies.invoices-7y.keep_minutely", 3, "policies.invoices-7y.keep_minutely: unknown key"),
    (
        "policies.invoices-7y.keep_monthly",
        85,
        "policies.invoices-7y: keep_monthly = 85 reaches 2585 days back, past max_age_days = 2557",
    ),
    ("backupctl.state_dir", 5, "backupctl.state_dir: expected a string, got 5"),
    (
        "backupctl.state_dir",
        "var/lib",
        "backupctl.state_dir: must be an absolute path, got 'var/lib'",
    ),
    ("locations.nas.offsite", "no", "locations.nas.offsite: expected true or false, got 'no'"),
    ("locations.remote.port", "22", "locations.remote.port: expected an integer, got '22'"),
    ("locations.remote.port", True, "locations.remote.port: expected an integer, got True"),
    ("locations.remote.port", 70000, "locations.remote.port: must be a port number 1-65535"),
    ("sources.mail.paths", "/var/mail", "sources.mail.paths: expected a list of strings"),
    ("sources.mail.tags", ["a", 1], "sources.mail.tags: expected a list of strings"),
    ("sources.mail.schedule", "often", 'sources.mail.schedule: must be "hourly"'),
    ("sources.mail.schedule", "0h", "sources.mail.schedule: must be"),
    (
        "policies.invoices-7y.max_age_days",
        0,
        "policies.invoices-7y.max_age_days: must be greater than 0",
    ),
    (
        "policies.invoices-7y.max_age_days",
        DELETE,
        "policies.invoices-7y.max_age_days: required key is missing",
    ),
    ("locations.nas.country", DELETE, "locations.nas.country: required key is missing"),
    ("locations.nas.offsite", DELETE, "locations.nas.offsite: required key is missing"),
    ("locations.nas.path", DELETE, "locations.nas.path: required key is missing"),
    (
        "locations.remote.known_hosts",
        DELETE,
        "locations.remote.known_hosts: required key is missing",
    ),
    ("locations.bucket.region", DELETE, "locations.bucket.region: required key is missing"),
    ("sources.mail.tenant", DELETE, "sources.mail.tenant: required key is missing"),
    ("sources.mail.paths", DELETE, "sources.mail.paths: required key is missing"),
    ("sources.mail.locations", DELETE, "sources.mail.locations: required key is missing"),
    ("locations.nas.kind", "ftp", "locations.nas.kind: expected one of local, sftp, s3, got 'ftp'"),
    ("locations.nas.kind", DELETE, "locations.nas.kind: expected one of local, sftp, s3, got None"),
    ("locations.nas.kind", ["local"], "locations.nas.kind: expected one of local, sftp, s3"),
    (
        "locations.nas.country",
        "NLD",
        "locations.nas.country: must be a two-letter ISO 3166 country code",
    ),
    ("locations.nas.country", "US", "locations.nas.country: US is outside the EEA"),
    (
        "locations.bucket.country",
        "FR",
        "locations.bucket.region: region eu-central-1 is in DE,"
        " but the location declares country FR",
    ),
    (
        "locations.bucket.bucket",
        "Acme_Backups",
        "locations.bucket.bucket: must be an S3 bucket name",
    ),
    (
        "locations.nas.path",
        "mnt/nas",
        "locations.nas.path: must be an absolute path, got 'mnt/nas'",
    ),
    ("sources.mail.paths", ["var/mail"], "sources.mail.paths: 'var/mail' must be an absolute path"),
    ("sources.mail.paths", [], "sources.mail.paths: at least one path is required"),
    (
        "sources.mail.locations",
        ["nas", "nowhere", "remote"],
        "sources.mail.locations: unknown location 'nowhere'",
    ),
    (
        "sources.mail.locations",
        ["nas", "nas", "remote"],
        "sources.mail.locations: a location is listed twice",
    ),
    (
        "sources.mail.retention",
        "forever",
        "sources.mail.retention: unknown policy 'forever' "
        "(known: backup-12m, camera-90d, cdr-1y, invoices-7y)",
    ),
    ("sources.mail.locations", ["remote"], "sources.mail.locations: has 1 location(s); at least 2"),
    ("sources.mail.locations", ["nas"], "sources.mail.locations: has no off-site location"),
    ("locations.nas", "not a table", "locations.nas: expected a table"),
    ("sources.mail", "not a table", "sources.mail: expected a table"),
    ("locations", ["nas"], "locations: expected a table of named tables"),
    (
        "sources.bad name",
        {"paths": ["/x"], "tenant": "t", "locations": ["nas", "remote"]},
        "sources.bad name: name must be 1-64 letters",
    ),
    (
        "backupctl.master_key_command",
        "cat /key",
        "backupctl: set master_key_file or master_key_command, not both",
    ),
    # identifiers become restic tags: "acme,source:other" would add a tag of another source
    ("sources.mail.tenant", "acme,source:other", "sources.mail.tenant: must be 1-64 letters"),
    ("sources.mail.tenant", "acme corp", "sources.mail.tenant: must be 1-64 letters"),
    ("sources.mail.tenant", "", "sources.mail.tenant: must be 1-64 letters"),
    (
        "sources.mail.tags",
        ["finance,source:other"],
        "sources.mail.tags: tag 'finance,source:other'",
    ),
    ("sources.mail.tags", [" finance"], "sources.mail.tags: tag ' finance' must be"),
    (
        "sources.mail.tags",
        ["tenant:other"],
        "sources.mail.tags: tag 'tenant:other' is one backupctl",
    ),
    ("sources.mail.tags", ["source:billing"], "sources.mail.tags: tag 'source:billing' is one"),
    ("sources.mail.tags", ["backupctl"], "sources.mail.tags: tag 'backupctl' is one backupctl"),
    ("locations.a,b", dict(GOOD["locations"]["nas"], path="/mnt/x"), "locations.a,b: name must be"),
    ("policies.p/q", {"max_age_days": 1}, "policies.p/q: name must be"),
    # a schedule too long to be meant overflowed the date arithmetic of `status`
    ("sources.mail.schedule", "99999999999999999999999h", "sources.mail.schedule: must be"),
    ("sources.mail.schedule", "9" * 400 + "h", "sources.mail.schedule: must be"),
    ("sources.mail.schedule", "8785h", "(at most 8784h, a year)"),
]


@pytest.mark.parametrize(
    ("dotted", "value", "expected"), MISTAKES, ids=[f"{d}={v!r}"[:60] for d, v, _ in MISTAKES]
)
def test_each_mistake_reports_its_key_path_and_expectation(dotted, value, expected):
    message = problems_of(_set(good(), dotted, value))
    assert expected in message
    assert str(PATH) in message


def test_config_error_is_a_usage_error():
    assert ConfigError.exit_code == ExitCode.USAGE == 2


def test_all_problems_are_reported_at_once():
    raw = good()
    raw["extra"] = {}
    raw["locations"]["nas"]["country"] = "US"
    raw["sources"]["mail"]["paths"] = ["relative"]
    raw["sources"]["billing"]["retention"] = "nope"
    message = problems_of(raw)
    assert "4 problem(s)" in message
    for expected in (
        "extra: unknown table",
        "locations.nas.country: US is outside the EEA",
        "sources.mail.paths: 'relative'",
        "sources.billing.retention: unknown policy",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("waiver", "locations", "rule"),
    [
        ("allow_single_location", ["remote"], "at least 2"),
        ("allow_no_offsite", ["nas", "nas2"], "off-site"),
    ],
)
def test_placement_rule_is_waived_only_with_a_reason(waiver, locations, rule):
    raw = good()
    raw["locations"]["nas2"] = dict(raw["locations"]["nas"], path="/mnt/nas2")
    raw["sources"]["mail"]["locations"] = locations
    assert rule in problems_of(copy.deepcopy(raw))
    raw["sources"]["mail"][waiver] = "ticket 42: second NAS ordered"
    parsed = config.parse(raw, PATH)
    assert getattr(parsed.sources["mail"], waiver) == "ticket 42: second NAS ordered"
    assert parsed.sources["mail"].locations == tuple(locations)


def test_location_outside_eea_is_allowed_with_a_reason():
    raw = good()
    raw["locations"]["nas"]["country"] = "ch"
    assert "locations.nas.country: CH is outside the EEA" in problems_of(copy.deepcopy(raw))
    raw["locations"]["nas"]["allow_outside_eea"] = "incident 2024-7, temporary"
    location = config.parse(raw, PATH).locations["nas"]
    assert location.country == "CH"
    assert location.allow_outside_eea == "incident 2024-7, temporary"


def test_outside_eea_reason_does_not_excuse_a_region_mismatch():
    raw = good()
    raw["locations"]["bucket"].update(country="US", allow_outside_eea="incident")
    assert "locations.bucket.region: region eu-central-1 is in DE" in problems_of(raw)


def test_unknown_s3_region_is_accepted_as_declared():
    raw = good()
    raw["locations"]["bucket"]["region"] = "nl-ams"
    raw["locations"]["bucket"]["country"] = "NL"
    assert config.parse(raw, PATH).locations["bucket"].settings["region"] == "nl-ams"


@pytest.mark.parametrize(("name", "table", "twin"), [
    ("nas-again", {"kind": "local", "country": "NL", "offsite": True, "path": "/mnt/nas/"}, "nas"),
    ("remote-again", dict(GOOD["locations"]["remote"], known_hosts="/other"), "remote"),
    ("bucket-again", dict(GOOD["locations"]["bucket"], provider="other"), "bucket"),
])  # fmt: skip
def test_two_names_for_one_place_are_refused(name, table, twin):
    raw = good()
    raw["locations"][name] = table
    assert f"locations.{name}: stores in the same place as locations.{twin}" in problems_of(raw)


@pytest.mark.parametrize(("location", "key", "value"), [
    ("nas", "path", "/mnt/nas2"), ("remote", "port", 2222), ("remote", "host", "other.example"),
    ("bucket", "prefix", "second/"), ("bucket", "bucket", "other-bucket"),
])  # fmt: skip
def test_locations_differing_in_place_are_accepted(location, key, value):
    raw = good()
    raw["locations"]["twin"] = dict(GOOD["locations"][location], **{key: value})
    assert "twin" in config.parse(raw, PATH).locations


def test_master_key_command_alone_is_accepted():
    raw = good()
    del raw["backupctl"]["master_key_file"]
    raw["backupctl"]["master_key_command"] = "cat /run/key"
    parsed = config.parse(raw, PATH)
    assert parsed.master_key_command == "cat /run/key" and parsed.master_key_file is None


def write(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_load_reads_a_toml_file(tmp_path):
    path = write(
        tmp_path,
        """
        [backupctl]
        state_dir = "/srv/state"

        [locations.nas]
        kind = "local"
        country = "NL"
        offsite = false
        path = "/mnt/nas"

        [locations.far]
        kind = "local"
        country = "SE"
        offsite = true
        path = "/mnt/far"

        [sources.web]
        paths = ["/var/www"]
        tenant = "acme"
        locations = ["nas", "far"]
        schedule = "hourly"
    """,
    )
    parsed = config.load(path)
    assert parsed.path == path
    assert parsed.sources["web"].schedule_hours == 1.0
    assert parsed.source_locations(parsed.sources["web"])[1].country == "SE"


def test_load_reports_the_line_of_invalid_toml(tmp_path):
    path = write(tmp_path, '[backupctl]\nstate_dir = "/x"\nrestic = \n')
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 3") as caught:
        config.load(path)
    assert str(path) in str(caught.value)


def test_load_reports_a_location_defined_twice_with_its_line(tmp_path):
    path = write(tmp_path, '[locations.nas]\nkind = "local"\n\n[locations.nas]\nkind = "local"\n')
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 4"):
        config.load(path)


def test_load_reports_a_missing_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="config file not found") as caught:
        config.load(path)
    assert str(path) in str(caught.value)


def test_load_reports_validation_problems_with_the_file_path(tmp_path):
    path = write(tmp_path, '[backupctl]\nmaster_key_file = "/k"\nmaster_key_command = "cat /k"\n')
    with pytest.raises(ConfigError, match="not both") as caught:
        config.load(path)
    assert str(caught.value).startswith(f"{path}: 1 problem(s)")


def test_load_reports_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[backupctl]\nstate_dir = "/\xff"\n')
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load(path)


def test_the_built_in_twelve_month_policy_cannot_be_redefined(tmp_path):
    import pytest as _pytest

    from backupctl import config as config_module
    from backupctl.errors import ConfigError

    raw = {"policies": {"backup-12m": {"max_age_days": 3650}}}
    with _pytest.raises(ConfigError, match=r"policies\.backup-12m: built-in policy"):
        config_module.parse(raw, tmp_path / "c.toml")


def test_tenant_and_tags_that_are_names_are_accepted():
    raw = good()
    raw["sources"]["mail"].update(tenant="acme-2.eu_west", tags=["team:finance", "tier.1", "x"])
    parsed = config.parse(raw, PATH).sources["mail"]
    assert (parsed.tenant, parsed.tags) == ("acme-2.eu_west", ("team:finance", "tier.1", "x"))


def test_a_schedule_of_a_year_is_the_longest_accepted():
    raw = good()
    raw["sources"]["mail"]["schedule"] = "8784h"
    assert config.parse(raw, PATH).sources["mail"].schedule_hours == 8784.0


def _local(path) -> dict:
    return {"kind": "local", "country": "SE", "offsite": True, "path": str(path)}


@pytest.mark.parametrize(
    "spelling", ["{a}/.", "{a}//", "{a}/", "{b}/../a", "{a}/sub/..", "{link}", "{link}/"]
)
def test_two_spellings_of_one_local_directory_are_one_place(tmp_path, spelling):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    raw = good()
    raw["locations"]["first"] = _local(tmp_path / "a")
    raw["locations"]["second"] = _local(
        spelling.format(a=tmp_path / "a", b=tmp_path / "b", link=tmp_path / "link")
    )
    assert "locations.second: stores in the same place as locations.first" in problems_of(raw)


@pytest.mark.parametrize(("location", "changes"), [
    ("remote", {"host": "BACKUP.example."}),
    ("remote", {"path": "/repos/./"}),
    ("remote", {"path": "//repos"}),
    ("remote", {"path": "/x/../repos"}),
    ("bucket", {"endpoint": "HTTPS://s3.EU-central-1.amazonaws.com:443/"}),
    ("bucket", {"prefix": "/"}),
    ("bucket", {"prefix": "./"}),
])  # fmt: skip
def test_two_spellings_of_one_remote_place_are_one_place(location, changes):
    raw = good()
    raw["locations"]["twin"] = dict(GOOD["locations"][location], **changes)
    assert f"locations.twin: stores in the same place as locations.{location}" in problems_of(raw)


@pytest.mark.parametrize(("inner", "outer", "table"), [
    ("inner", "nas", {"kind": "local", "country": "SE", "offsite": True, "path": "/mnt/nas/off"}),
    ("inner", "remote", dict(GOOD["locations"]["remote"], path="/repos/more")),
    ("inner", "bucket", dict(GOOD["locations"]["bucket"], prefix="sub/dir")),
])  # fmt: skip
def test_a_location_inside_another_of_the_same_source_is_refused(inner, outer, table):
    raw = good()
    raw["locations"]["inner"] = table
    raw["sources"]["mail"]["locations"] = [outer, "inner"]
    raw["sources"]["mail"]["allow_no_offsite"] = "test"
    assert f"sources.mail.locations: {inner} stores inside {outer}" in problems_of(raw)


def test_nested_locations_of_different_sources_are_allowed():
    raw = good()
    raw["locations"]["inner"] = _local("/mnt/nas/offsite")
    raw["locations"]["far"] = _local("/mnt/far")
    raw["sources"]["other"] = {"paths": ["/srv"], "tenant": "t", "locations": ["inner", "far"]}
    assert "other" in config.parse(raw, PATH).sources


@pytest.mark.parametrize("key", ["state_dir", "restic_cache_dir"])
def test_a_state_directory_that_is_a_file_is_refused(tmp_path, key):
    (tmp_path / "file").write_text("")
    raw = good()
    raw["backupctl"][key] = str(tmp_path / "file")
    assert f"backupctl.{key}: {tmp_path / 'file'} is not a directory" in problems_of(raw)
    raw["backupctl"][key] = str(tmp_path / "file" / "below")
    assert f"lies below {tmp_path / 'file'}, not a directory" in problems_of(raw)


def test_a_state_directory_that_does_not_exist_yet_is_accepted(tmp_path):
    raw = good()
    raw["backupctl"]["state_dir"] = str(tmp_path / "new" / "state")
    assert config.parse(raw, PATH).state_dir == tmp_path / "new" / "state"
