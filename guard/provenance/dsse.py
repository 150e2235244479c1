"""DSSE envelopes (secure-systems-lab/dsse v1): the signature covers PAE(type, payload), never re-serialised JSON."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class EnvelopeError(Exception):
    """An envelope that cannot be parsed."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> str:
        return json.dumps({
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures],
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Envelope":
        try:
            data = json.loads(text)
            return cls(
                payload_type=data["payloadType"],
                payload=base64.b64decode(data["payload"], validate=True),
                signatures=tuple(
                    Signature(s["keyid"], base64.b64decode(s["sig"], validate=True)) for s in data["signatures"]
                ),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise EnvelopeError(f"not a DSSE envelope: {exc}") from exc


def sign(payload_type: str, payload: bytes, keyid: str, key: Ed25519PrivateKey) -> Envelope:
    return Envelope(payload_type, payload, (Signature(keyid, key.sign(pae(payload_type, payload))),))
