"""Signing keys with ids and validity windows.

The public keyring is what auditors hold: every key ever used, with the
window in which its signatures count and, if it leaked, the instant from
which they no longer do. Rotation closes the old key's window and opens a
new one, so records signed earlier keep verifying. Private keys live one
per file with owner-only permissions and are never logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class KeyringError(Exception):
    """No key, or a key used outside its window."""


def key_id_for(public_key: bytes) -> str:
    return "ed25519-" + hashlib.sha256(public_key).hexdigest()[:16]


def rfc3339(value: dt.datetime) -> str:
    """UTC, microseconds when present, 'Z' suffix: one spelling for every timestamp we sign."""
    value = value.astimezone(dt.timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def parse_rfc3339(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {text}")
    return value.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: bytes
    valid_from: dt.datetime
    valid_until: dt.datetime | None = None
    compromised_at: dt.datetime | None = None

    def usable_at(self, when: dt.datetime) -> bool:
        if when < self.valid_from:
            return False
        if self.valid_until is not None and when >= self.valid_until:
            return False
        return self.compromised_at is None or when < self.compromised_at

    def to_dict(self) -> dict:
        return {
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "public_key": base64.b64encode(self.public_key).decode(),
            "valid_from": rfc3339(self.valid_from),
            "valid_until": rfc3339(self.valid_until) if self.valid_until else None,
            "compromised_at": rfc3339(self.compromised_at) if self.compromised_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "PublicKey":
        if data.get("algorithm") != "ed25519":
            raise KeyringError(f"unsupported key algorithm {data.get('algorithm')!r}")
        public = base64.b64decode(data["public_key"], validate=True)
        if key_id_for(public) != data["key_id"]:
            raise KeyringError(f"key id {data['key_id']} does not match its public key")
        return cls(
            key_id=data["key_id"],
            public_key=public,
            valid_from=parse_rfc3339(data["valid_from"]),
            valid_until=parse_rfc3339(data["valid_until"]) if data.get("valid_until") else None,
            compromised_at=parse_rfc3339(data["compromised_at"]) if data.get("compromised_at") else None,
        )


@dataclass(frozen=True)
class Keyring:
    """The public half: the log's origin (its checkpoint key name) and every key."""

    origin: str
    keys: tuple[PublicKey, ...]

    def get(self, key_id: str) -> PublicKey:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise KeyringError(f"key {key_id} is not in the keyring")

    def to_json(self) -> str:
        return json.dumps({"origin": self.origin, "keys": [k.to_dict() for k in self.keys]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Keyring":
        try:
            data = json.loads(text)
            return cls(origin=data["origin"], keys=tuple(PublicKey.from_dict(k) for k in data["keys"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"not a keyring: {exc}") from exc


class KeyStore:
    """The private half, in a folder: keyring.json plus one PEM per key (mode 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cached: tuple[int, Keyring] | None = None
        self._private: dict[str, Ed25519PrivateKey] = {}

    @property
    def keyring_file(self) -> Path:
        return self.folder / "keyring.json"

    def exists(self) -> bool:
        return self.keyring_file.exists()

    def create(self, origin: str, now: dt.datetime) -> Keyring:
        if self.exists():
            raise KeyringError(f"a keyring already exists in {self.folder}")
        keyring = Keyring(origin, ())
        return self._add_key(keyring, now)

    def keyring(self) -> Keyring:
        """Re-read only when the file changed, so a rotation by `guard keys` reaches a running server."""
        stamp = self.keyring_file.stat().st_mtime_ns
        if self._cached is None or self._cached[0] != stamp:
            self._cached = (stamp, Keyring.from_json(self.keyring_file.read_text()))
        return self._cached[1]

    def rotate(self, now: dt.datetime) -> Keyring:
        """Close every open window at `now` and start a new key from `now`."""
        keyring = self.keyring()
        closed = tuple(replace(k, valid_until=now) if k.valid_until is None or k.valid_until > now else k
                       for k in keyring.keys)
        return self._add_key(Keyring(keyring.origin, closed), now)

    def mark_compromised(self, key_id: str, since: dt.datetime) -> Keyring:
        keyring = self.keyring()
        keyring.get(key_id)
        updated = tuple(replace(k, compromised_at=since) if k.key_id == key_id else k for k in keyring.keys)
        result = Keyring(keyring.origin, updated)
        self._write_keyring(result)
        return result

    def signing_key(self, when: dt.datetime) -> tuple[PublicKey, Ed25519PrivateKey]:
        """The newest key usable at `when`, with its private half."""
        usable = [k for k in self.keyring().keys if k.usable_at(when)]
        if not usable:
            raise KeyringError(f"no signing key is valid at {rfc3339(when)}; rotate the keyring")
        key = max(usable, key=lambda k: k.valid_from)
        if key.key_id not in self._private:
            private = serialization.load_pem_private_key((self.folder / f"{key.key_id}.pem").read_bytes(), None)
            if not isinstance(private, Ed25519PrivateKey):
                raise KeyringError(f"{key.key_id} is not an Ed25519 key")
            self._private[key.key_id] = private
        return key, self._private[key.key_id]

    def _add_key(self, keyring: Keyring, now: dt.datetime) -> Keyring:
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        entry = PublicKey(key_id_for(public), public, valid_from=now)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        fd = os.open(self.folder / f"{entry.key_id}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        result = Keyring(keyring.origin, keyring.keys + (entry,))
        self._write_keyring(result)
        return result

    def _write_keyring(self, keyring: Keyring) -> None:
        tmp = self.keyring_file.with_suffix(".tmp")
        tmp.write_text(keyring.to_json())
        tmp.replace(self.keyring_file)
