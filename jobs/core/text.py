"""Text normalisation shared by the reader, the registry and the checks."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")


def clean_text(value: object) -> str | None:
    """Trim a cell's text (ASCII, full-width and no-break spaces); empty becomes ``None``."""
    if value is None:
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    return text or None


def fold_key(value: object) -> str:
    """Fold a header, sheet name or enum value for matching.

    NFKC (full-width letters, digits and brackets to half-width) and every
    kind of whitespace removed, so ``' 整改 台账　'`` matches ``整改台账`` and
    ``约谈提醒（人次）`` matches ``约谈提醒(人次)``.
    """
    if value is None:
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(value)))
