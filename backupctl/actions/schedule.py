"""`schedule install|show|remove`: the config's jobs as systemd timers or a cron file.

Install writes what ``schedule/units.py`` generates (plan first: a dry run prints it), removes
backupctl units the config no longer needs and, when systemd runs this host, reloads it and
enables the timers. Show compares what is installed with what the config needs now.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

from backupctl.config import Config
from backupctl.schedule import install as files
from backupctl.schedule import units


@dataclasses.dataclass(frozen=True)
class Plan:
    kind: str  # "systemd" or "cron"
    directory: pathlib.Path
    files: dict[str, str]  # name -> text, what the config needs
    stale: tuple[str, ...]  # backupctl files installed that the config no longer needs


@dataclasses.dataclass(frozen=True)
class Installed:
    plan: Plan
    written: tuple[str, ...]
    removed: tuple[str, ...]
    activated: bool  # systemd reloaded and the timers enabled


@dataclasses.dataclass(frozen=True)
class JobState:
    name: str
    command: str
    when: str
    next_run: datetime.datetime
    installed: str  # "systemd", "cron" or "" (not installed)
    matches: bool  # what is installed is what the config asks for now


@dataclasses.dataclass(frozen=True)
class Shown:
    jobs: tuple[JobState, ...]
    stale: tuple[str, ...]  # installed backupctl files the config no longer needs


def plan(config: Config, *, kind: str, binary: pathlib.Path) -> Plan:
    """Given the config, ``systemd`` or ``cron`` and the backupctl binary, return what to write
    and which installed files to remove; raise ConfigError for a path a unit cannot hold."""
    config_path = config.path.absolute()
    if kind == "cron":
        cron = config.operations.cron_file
        return Plan(
            "cron", cron.parent, {cron.name: units.cron_text(binary, config_path, config)}, ()
        )
    needed = units.systemd_files(binary, config_path, config)
    present = files.installed_units(config.operations.unit_dir)
    stale = tuple(name for name in present if name not in needed)
    return Plan("systemd", config.operations.unit_dir, needed, stale)


def install(config: Config, *, kind: str, binary: pathlib.Path, activate: bool) -> Installed:
    """Given the config, write its jobs' files; remove stale ones; when ``activate`` and systemd
    runs this host, reload it and enable (and start) every timer. Raise ScheduleError when a
    file cannot be written or systemctl fails."""
    chosen = plan(config, kind=kind, binary=binary)
    files.write_files(chosen.directory, chosen.files)
    removed = files.remove_files(chosen.directory, list(chosen.stale))
    if kind == "cron":  # one kind at a time: the same job must not run twice
        removed += list(remove(config, activate=activate, keep_cron=True))
    else:
        cron = config.operations.cron_file
        removed += [str(cron) for _ in files.remove_files(cron.parent, [cron.name])]
    activated = False
    if kind == "systemd" and activate and files.systemd_running():
        timers = [name for name in chosen.files if name.endswith(".timer")]
        if removed:
            files.systemctl("disable", "--now", *[n for n in removed if n.endswith(".timer")])
        files.systemctl("daemon-reload")
        files.systemctl("enable", "--now", *timers)
        activated = True
    return Installed(chosen, tuple(chosen.files), tuple(removed), activated)


def remove(config: Config, *, activate: bool, keep_cron: bool = False) -> tuple[str, ...]:
    """Given the config, remove every backupctl unit and the cron file (unless ``keep_cron``;
    only files carrying backupctl's marker); disable the timers first when systemd runs this
    host. Return the paths removed."""
    unit_dir = config.operations.unit_dir
    names = list(files.installed_units(unit_dir))
    timers = [name for name in names if name.endswith(".timer")]
    if timers and activate and files.systemd_running():
        files.systemctl("disable", "--now", *timers)
    removed = [str(unit_dir / name) for name in files.remove_files(unit_dir, names)]
    cron = config.operations.cron_file
    if not keep_cron:
        removed += [str(cron) for _ in files.remove_files(cron.parent, [cron.name])]
    if names and activate and files.systemd_running():
        files.systemctl("daemon-reload")
    return tuple(removed)


def show(config: Config, *, binary: pathlib.Path, now: datetime.datetime) -> Shown:
    """Given the config and the moment, return each job: when it runs next, whether it is
    installed (systemd or cron) and whether the installed file matches the config."""
    config_path = config.path.absolute()
    present = files.installed_units(config.operations.unit_dir)
    cron = files.read_ours(config.operations.cron_file)
    cron_lines = set((cron or "").splitlines())
    wanted_cron = set(units.cron_text(binary, config_path, config).splitlines())
    states = []
    for job in units.jobs(config):
        service, timer = f"{job.unit}.service", f"{job.unit}.timer"
        cron_line = next((line for line in wanted_cron if line.endswith(f" run {job.name}")), "")
        if service in present or timer in present:
            where = "systemd"
            matches = present.get(service) == units.service_text(
                binary, config_path, job
            ) and present.get(timer) == units.timer_text(job)
        elif any(line.endswith(f" run {job.name}") for line in cron_lines):
            where, matches = "cron", cron_line in cron_lines
        else:
            where, matches = "", False
        states.append(
            JobState(
                job.name,
                " ".join(job.arguments),
                job.timing.describe(),
                job.timing.next_after(now),
                where,
                matches,
            )
        )
    needed = set(units.systemd_files(binary, config_path, config))
    stale = tuple(name for name in present if name not in needed)
    return Shown(tuple(states), stale)
