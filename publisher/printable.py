"""Text from the records (requestedBy, params, error messages: anyone with publish rights chooses
them) made safe to show: control and format characters written as escapes (`\\x1b`, `\\u202e`),
so that a bidi override cannot reverse a column, an ESC cannot drive a terminal and a NUL or a
line separator cannot forge a line. Used by the dashboard's templates and the CLI's output."""

from __future__ import annotations

import unicodedata

# control (NUL, ESC, DEL, C1), format (bidi overrides and isolates, zero-width characters),
# surrogates (not encodable), line and paragraph separators
ESCAPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible(text: str, keep: str = "") -> str:
    """`text` with each such character as its Python escape; the characters of `keep` (say a
    newline where the output is a block of lines) stay as they are."""
    if text.isprintable():  # the usual case: nothing to look at
        return text
    return "".join(
        ascii(c)[1:-1] if c not in keep and unicodedata.category(c) in ESCAPED else c for c in text
    )
