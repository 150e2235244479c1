"""C2SP signed notes with Ed25519 signatures, and tlog-checkpoint bodies.

    <origin>\\n<tree size>\\n<base64 root>\\n\\n— <key name> base64(key id || signature)\\n

The key id is SHA-256(name || 0x0A || 0x01 || public key)[:4], as the
signed-note specification recommends for Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

_DASH = "\u2014 "
_ED25519 = b"\x01"
MAX_SIGNATURES = 16


class NoteError(Exception):
    """A note or checkpoint that is malformed or not signed by a trusted key."""


def note_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    if not text.endswith("\n"):
        raise ValueError("note text must end in a newline")
    public = key.public_key().public_bytes_raw()
    signature = note_key_id(name, public) + key.sign(text.encode())
    return f"{text}\n{_DASH}{name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, name: str, public_key: bytes) -> str:
    """The note's text, once a signature by (name, public_key) verifies over it; NoteError otherwise."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("note contains control characters")
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text += "\n"
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    wanted = note_key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError("malformed signature line")
        signer, _, encoded = line[len(_DASH):].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise NoteError("signature is not base64") from exc
        if signer != name or raw[:4] != wanted:
            continue
        try:
            verifier.verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"signature by {name} does not verify") from exc
        return text
    raise NoteError(f"note carries no signature by {name} with key id {wanted.hex()}")


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("checkpoint body must be origin, size and root hash lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError(f"checkpoint tree size '{size[:20]}' is not a decimal number")
    try:
        raw_root = base64.b64decode(root, validate=True)
    except binascii.Error as exc:
        raise NoteError("checkpoint root hash is not base64") from exc
    if len(raw_root) != 32:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return Checkpoint(origin, int(size), raw_root)
