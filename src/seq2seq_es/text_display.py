"""Show untrusted text (model outputs, corpus sources) in HTML so that it reads as it is.

Why: a text is data, and Unicode lets data rearrange its neighbours. A right-to-left
override (U+202E) inside ``Pago a: \\u202eGNP.exe`` makes it read "Pago a: exe.PNG"; an
unterminated override spills into the page around it. So every shown text

* is escaped (no markup gets through);
* has its invisible control and bidi-formatting characters replaced by a visible marker
  (``⟦U+202E⟧``): the reader sees that they are there, and they act on nothing;
* sits in an element with ``dir="auto"`` and ``unicode-bidi: isolate`` (``DISPLAY_CSS``),
  so a right-to-left text is laid out as one and cannot reorder what surrounds it;
* wraps anywhere (``overflow-wrap: anywhere``): one unbroken 3,000-character output made a
  page 29,556 px wide.

The web page's script applies the same marker rule to what it shows (``page.js``,
``visibleText``), for text that arrives in the browser.
"""

from __future__ import annotations

import html
import re

# C0/C1 controls except tab, newline and carriage return; the bidi marks, embeddings,
# overrides and isolates; zero-width joiners/spaces and the BOM, which hide in text too.
CONTROL_CHARS = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2069\ufeff]"
)
DISPLAY_CSS = "unicode-bidi:isolate;white-space:pre-wrap;overflow-wrap:anywhere"


def visible_text(text: str) -> str:
    """``text`` with each control or bidi-formatting character replaced by ``⟦U+XXXX⟧``."""
    return CONTROL_CHARS.sub(lambda match: f"⟦U+{ord(match.group()):04X}⟧", text)


def display_html(text: str) -> str:
    """``text`` escaped for HTML, its control characters made visible (see the module doc)."""
    return html.escape(visible_text(text), quote=True)
