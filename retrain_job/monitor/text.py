"""Bounds on text that came from the data: names and values reach reports and alerts clipped.

A logged category value can be any length (10 MB has been seen); copied whole it bloats the
report and makes SNS refuse the alert, so the drift alert is lost.
"""

from __future__ import annotations

MAX_NAME_CHARS = 120  # a name or value as shown in reports and alerts
# SNS Publish: "messages must be UTF-8 encoded strings and at most 256 KB in size (262,144 bytes,
# not 262,144 characters)"; a topic's default MaximumMessageSize is 262,144 bytes.
SNS_MESSAGE_BYTES = 262_144
_ELLIPSIS = "…"


def clip(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis and the original length."""
    if len(text) <= limit:
        return text
    marker = f"{_ELLIPSIS}({len(text):,} chars)"
    return text[: max(limit - len(marker), 0)] + marker


def fit_bytes(text: str, limit: int = SNS_MESSAGE_BYTES) -> str:
    """`text` cut so its UTF-8 encoding is at most `limit` bytes, never inside a character."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    note = f"\n{_ELLIPSIS} (cut to fit {limit:,} bytes; the report has everything)"
    room = limit - len(note.encode())
    return encoded[:room].decode(errors="ignore") + note
