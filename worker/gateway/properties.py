"""java.util.Properties values, as IBC reads its config.ini: how the worker writes one, and the
forms a credential takes there (which the logs must mask too)."""

from __future__ import annotations


def properties_value(value: str, escaped: str = "") -> str:
    """`value` as java.util.Properties reads it back unchanged: backslashes doubled, a leading
    space and the characters of `escaped` behind a backslash, anything outside printable ASCII
    as \\uXXXX (the file is read as ISO-8859-1, and an escaped line break stays inside the
    value). `Properties.store` itself also escapes `=:#!`."""
    out = []
    for i, char in enumerate(value):
        if char == "\\" or char in escaped or (char == " " and i == 0):
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            units = char.encode("utf-16-be", "surrogatepass")  # 1 or 2 UTF-16 code units
            out += (f"\\u{units[j]:02x}{units[j + 1]:02x}" for j in range(0, len(units), 2))
    return "".join(out)
