"""Small datatrove steps of our own, each counting what it changed, kept or dropped.

Why our own: datatrove's built-in language filter downloads fastText at run time and
its Gopher defaults are tuned for English; these steps run offline and for Spanish.
"""

from __future__ import annotations

import re
import unicodedata

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.formatters.base import BaseFormatter
from datatrove.pipeline.writers.disk_base import DiskWriter

# C0/C1 control characters except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFC, control characters removed, runs of spaces collapsed; keeps case and accents."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


class NormalizeText(BaseFormatter):
    """Unicode NFC + control-character and whitespace cleanup."""

    name = "🔤 normalize"

    def format(self, text: str) -> str:
        return normalize_text(text)


class LengthFilter(BaseFilter):
    """Drop documents shorter than ``min_chars`` or longer than ``max_chars`` (reason recorded)."""

    name = "📏 length"

    def __init__(self, min_chars: int, max_chars: int, exclusion_writer: DiskWriter | None = None) -> None:
        super().__init__(exclusion_writer)
        self.min_chars, self.max_chars = min_chars, max_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if len(doc.text) < self.min_chars:
            return False, "too_short"
        if len(doc.text) > self.max_chars:
            return False, "too_long"
        return True
