"""Checks on caller-supplied text, with messages a pipeline engineer can act on."""

from __future__ import annotations

import re
import unicodedata

from guard.errors import InvalidArgument

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
ISRC = re.compile(r"^[A-Z]{2}-?[A-Z0-9]{3}-?[0-9]{2}-?[0-9]{5}$")
ISWC = re.compile(r"^T-?[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]$")
MAX_METADATA_ENTRIES = 64


def identifier(field: str, value: str, *, required: bool = True) -> str:
    if not value:
        if required:
            raise InvalidArgument(f"{field} is required")
        return value
    if not IDENTIFIER.match(value):
        raise InvalidArgument(
            f"{field} must be 1-128 characters of letters, digits and . _ : / -, starting with a letter or digit"
        )
    return value


def text(field: str, value: str, *, max_chars: int, required: bool = False) -> str:
    if required and not value.strip():
        raise InvalidArgument(f"{field} is required")
    if len(value) > max_chars:
        raise InvalidArgument(f"{field} is {len(value)} characters; at most {max_chars} are accepted")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise InvalidArgument(f"{field} contains control characters")
    return value


def pattern(field: str, value: str, regex: re.Pattern[str], example: str) -> str:
    if value and not regex.match(value):
        raise InvalidArgument(f"{field} '{value[:40]}' is malformed; expected the form {example}")
    return value


def metadata(values: dict[str, str], *, max_chars: int) -> dict[str, str]:
    if len(values) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(f"metadata has {len(values)} entries; at most {MAX_METADATA_ENTRIES} are accepted")
    for key, value in values.items():
        text("metadata key", key, max_chars=128, required=True)
        text(f"metadata['{key[:40]}']", value, max_chars=max_chars)
    return dict(values)
