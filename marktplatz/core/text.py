"""Plain-text hygiene shared by every layer that takes text from people."""

from __future__ import annotations

import re

# Explicit bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
# In a title or name they can make "Hundesteuer" display as something else (Trojan Source),
# and no municipal text needs them: they are removed, not refused.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def strip_bidi(value: str) -> str:
    """Return value without bidirectional control characters."""
    return BIDI_CONTROLS.sub("", value)
