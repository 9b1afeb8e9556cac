"""Ping a monitoring URL (healthchecks.io, Uptime Kuma, a webhook) when a scheduled job starts,
succeeds or fails. A ping is a bounded GET (or a POST with a small JSON body of ids and counts);
it never fails the job, and its URL, which often holds a secret token, is never logged whole."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

logger = logging.getLogger(__name__)

RESPONSE_LIMIT = 4096


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        return None  # a redirect could lead the token elsewhere: not followed


def shown(url: str) -> str:
    """Given a ping URL, return what may be logged: scheme and host only (the path often is the
    secret)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"


def send(url: str, body: Mapping[str, object], *, timeout: float) -> bool:
    """Given a URL, a small body of ids and counts and a timeout in seconds, POST the body as
    JSON; return whether the server answered 2xx. Failures are logged (host only), never
    raised."""
    data = json.dumps(dict(body), sort_keys=True).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(RESPONSE_LIMIT)
            return 200 <= response.status < 300
    except urllib.error.HTTPError as error:
        logger.warning("ping to %s answered %s", shown(url), error.code)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        logger.warning("ping to %s failed: %s", shown(url), type(reason).__name__)
    return False
