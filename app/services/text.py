"""Free text from people (names, notes, labels), made safe to store and show.

Control characters and the Unicode bidirectional overrides and isolates are removed: the
overrides let "Dr. Smith" be written so that it reads as someone else's name (or a file
"gpj.exe" as "exe.jpg"), and control characters can break logs and layouts. Text is
normalised to NFC so the same name is stored the same way whatever keyboard typed it.
"""

from __future__ import annotations

import re
import unicodedata

# U+202A-U+202E: embeddings and overrides; U+2066-U+2069: isolates; U+200E/U+200F and
# U+061C: directional marks. All are format characters (category Cf) with no place in a
# name or a clinical note.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROL = "".join(chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])
_BIDI_CHARS = re.compile(f"[{re.escape(_BIDI)}]")
_CONTROL_CHARS = re.compile(f"[{re.escape(_CONTROL)}]")
_STRIP_TEXT = re.compile(
    f"[{re.escape(_BIDI + _CONTROL.replace(chr(10), '').replace(chr(9), ''))}]"
)


def clean_line(value: str) -> str:
    """One line (a name, a label): bidi characters removed, control characters (a tab,
    a line break) become spaces, spaces collapsed, trimmed."""
    value = _BIDI_CHARS.sub("", unicodedata.normalize("NFC", value or ""))
    value = _CONTROL_CHARS.sub(" ", value)
    return re.sub(r"\s+", " ", value).strip()


def clean_text(value: str) -> str:
    """Several lines (a note): newlines and tabs kept (CRLF becomes LF), other controls
    and bidi overrides removed, trimmed."""
    value = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").replace("\r", "\n")
    return _STRIP_TEXT.sub("", value).strip()
