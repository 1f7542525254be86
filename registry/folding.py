"""Search text without accents or case, so "universite" finds "Université" on every database."""

from __future__ import annotations

from anyascii import anyascii


def fold(text: str) -> str:
    """Text transliterated to ASCII and lower-cased: "Łódź Straße" -> "lodz strasse"."""
    return anyascii(text).casefold().strip()


def like_pattern(text: str) -> str:
    """A LIKE pattern matching the folded text anywhere; % and _ typed by people match themselves."""
    escaped = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
