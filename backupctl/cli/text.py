"""Untrusted text in human views: customer names, notes, device model and serial from udev.

Control characters (a newline that would forge a line, an escape sequence that would repaint
the terminal), format characters (bidirectional overrides) and line separators are shown as
Python-style escapes; a backslash is doubled so an escape cannot be faked either.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def shown(value: object, *, empty: str = "-") -> str:
    """Given a value from outside, return it printable on one line; ``empty`` for None or ""."""
    if value is None or value == "":
        return empty
    return "".join(_escape(character) for character in str(value))


def _escape(character: str) -> str:
    if character in _NAMED:
        return _NAMED[character]
    if unicodedata.category(character) not in _HIDDEN_CATEGORIES:
        return character
    code = ord(character)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )
