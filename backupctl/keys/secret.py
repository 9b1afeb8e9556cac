"""A secret string that never shows itself: not in repr, str, f-strings, logging or pickles.

Only a process boundary (a pipe to restic, an environment for a child, the keystore's own
encryption) calls :meth:`Secret.reveal`. Modelled on restic's ``SecretString``.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

REDACTED = "**redacted**"


class Secret:
    """Given a str, hold it and print as ``**redacted**`` everywhere."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """Return the secret text; call only where it leaves the process (pipe, cipher)."""
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        """Compare in constant time with another Secret; a plain str is never equal."""
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    __hash__ = None  # type: ignore[assignment]  # a hash would be a cheap oracle on the value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not picklable; reveal it explicitly at a process boundary")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict) -> Secret:
        return self
