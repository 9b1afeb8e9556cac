"""Around one scheduled job: the start ping, then the success or failure ping and a fresh
metrics file. Neither a ping nor the metrics ever changes the job's outcome."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

from backupctl import runlock
from backupctl.config import Config
from backupctl.errors import is_expected
from backupctl.monitoring import ping
from backupctl.schedule import units

logger = logging.getLogger(__name__)


def started(config: Config, job: str) -> tuple[str, ...]:
    """Given a job name, ping operations.ping_start and return the job's backupctl arguments;
    raise ConfigError when the config has no such job."""
    arguments = units.find(config, job).arguments
    _ping(config, config.operations.ping_start, job, "start", None)
    return arguments


@contextlib.contextmanager
def patience(config: Config) -> Iterator[None]:
    """Within the block, a run waits up to operations.lock_wait_minutes for a source another
    run is working on (the nightly rotation waits for the hourly backup to end)."""
    with runlock.patience(config.operations.lock_wait_minutes * 60.0):
        yield


def finished(config: Config, job: str, exit_code: int) -> None:
    """Given the job's exit code, ping success (0) or failure (anything else), then rewrite the
    metrics file when one is configured."""
    url = config.operations.ping_success if exit_code == 0 else config.operations.ping_failure
    _ping(config, url, job, "success" if exit_code == 0 else "failure", exit_code)
    if config.operations.metrics_file is None:
        return
    from backupctl.actions import metrics  # lists every location: loaded only when configured

    try:
        metrics.write(config, config.operations.metrics_file)
    except Exception as error:
        if not is_expected(error):
            raise
        logger.error("metrics file %s not written: %s", config.operations.metrics_file, error)


def _ping(config: Config, url: str | None, job: str, event: str, exit_code: int | None) -> None:
    if url is None:
        return
    body = {"job": job, "event": event, "host": socket.gethostname()}
    if exit_code is not None:
        body["exit_code"] = exit_code
    ping.send(url, body, timeout=config.operations.ping_timeout_seconds)
