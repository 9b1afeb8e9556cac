"""Secret never shows its value: repr, str, format, f-strings, %-formatting, logging, pickles."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backupctl.keys.secret import REDACTED, Secret

VALUE = "hunter2-correct-horse"


def test_reveal_returns_the_value():
    assert Secret(VALUE).reveal() == VALUE


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        format,
        lambda s: f"{s}",
        lambda s: f"{s!r}",
        lambda s: f"{s:>40}",
        lambda s: "%s %r" % (s, s),  # noqa: UP031 - %-formatting is what this case tests
        lambda s: "{}".format(s),  # noqa: UP032 - so is str.format
        lambda s: repr([s, {"k": s}]),
        lambda s: str(ValueError(s)),
        lambda s: repr(ValueError(s)),
    ],
)
def test_every_rendering_is_redacted(render):
    text = render(Secret(VALUE))
    assert VALUE not in text
    assert REDACTED in text


def test_logging_output_is_redacted(caplog):
    logger = logging.getLogger("test_secret")
    with caplog.at_level(logging.DEBUG, logger="test_secret"):
        secret = Secret(VALUE)
        logger.info("password %s repr %r", secret, secret)
        logger.info(secret)
        logger.info("mapping %(pw)s", {"pw": secret})
    assert VALUE not in caplog.text
    assert caplog.text.count(REDACTED) == 4


def test_equality_is_by_value_and_never_with_plain_strings():
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret(VALUE) != VALUE


def test_not_picklable_and_not_hashable():
    with pytest.raises(TypeError):
        pickle.dumps(Secret(VALUE))
    with pytest.raises(TypeError):
        hash(Secret(VALUE))


def test_copy_keeps_the_value():
    assert copy.deepcopy(Secret(VALUE)).reveal() == VALUE


def test_only_str_is_accepted():
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


@given(st.text(min_size=1))
def test_no_rendering_contains_any_value(value):
    assume(value not in REDACTED)
    secret = Secret(value)
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:^30}",
        "%s" % secret,  # noqa: UP031 - %-formatting is what this case tests
    ):
        assert value not in text
