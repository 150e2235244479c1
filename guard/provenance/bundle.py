"""Log leaves and the self-contained bundle an auditor verifies offline."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from guard.provenance.dsse import Envelope, EnvelopeError
from guard.provenance.keyring import Keyring, KeyringError, parse_rfc3339, rfc3339
from guard.provenance.record import canonical

BUNDLE_TYPE = "application/vnd.guard.bundle.v1+json"
CHECKPOINT_UPDATE_TYPE = "application/vnd.guard.checkpoint-update.v1+json"
RECORD_LEAF = "provenance_record"


class BundleError(Exception):
    """A bundle or checkpoint update that cannot be parsed."""


@dataclass(frozen=True)
class Leaf:
    """What the log commits to: which thing, a digest of its signed payload, and when it was integrated."""

    kind: str
    subject: str
    payload_sha256: str
    integrated_at: dt.datetime

    def encode(self) -> bytes:
        return canonical({
            "kind": self.kind,
            "subject": self.subject,
            "payload_sha256": self.payload_sha256,
            "integrated_at": rfc3339(self.integrated_at),
        })

    @classmethod
    def decode(cls, data: bytes) -> "Leaf":
        try:
            fields = json.loads(data)
            leaf = cls(fields["kind"], fields["subject"], fields["payload_sha256"],
                       parse_rfc3339(fields["integrated_at"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"malformed log leaf: {exc}") from exc
        if leaf.encode() != data:
            raise BundleError("log leaf is not in canonical form")
        return leaf


@dataclass(frozen=True)
class Bundle:
    envelope: Envelope
    log_index: int
    leaf: bytes
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str
    keyring: Keyring

    def to_json(self) -> str:
        return json.dumps({
            "media_type": BUNDLE_TYPE,
            "envelope": json.loads(self.envelope.to_json()),
            "log_entry": {"index": self.log_index, "leaf": base64.b64encode(self.leaf).decode()},
            "inclusion_proof": {
                "tree_size": self.tree_size,
                "hashes": [base64.b64encode(h).decode() for h in self.inclusion_proof],
            },
            "checkpoint": self.checkpoint,
            "keyring": json.loads(self.keyring.to_json()),
        }, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Bundle":
        try:
            data = json.loads(text)
            if data.get("media_type") != BUNDLE_TYPE:
                raise BundleError(f"not a guard bundle (media_type {data.get('media_type')!r})")
            return cls(
                envelope=Envelope.from_json(json.dumps(data["envelope"])),
                log_index=int(data["log_entry"]["index"]),
                leaf=base64.b64decode(data["log_entry"]["leaf"], validate=True),
                tree_size=int(data["inclusion_proof"]["tree_size"]),
                inclusion_proof=tuple(base64.b64decode(h, validate=True) for h in data["inclusion_proof"]["hashes"]),
                checkpoint=str(data["checkpoint"]),
                keyring=Keyring.from_json(json.dumps(data["keyring"])),
            )
        except (ValueError, KeyError, TypeError, binascii.Error, EnvelopeError, KeyringError) as exc:
            raise BundleError(f"malformed bundle: {exc}") from exc


@dataclass(frozen=True)
class CheckpointUpdate:
    """A checkpoint, and the consistency proof from a size the auditor already holds."""

    checkpoint: str
    old_size: int
    proof: tuple[bytes, ...]

    def to_json(self) -> str:
        return json.dumps({
            "media_type": CHECKPOINT_UPDATE_TYPE,
            "checkpoint": self.checkpoint,
            "consistency": {"old_size": self.old_size, "hashes": [base64.b64encode(h).decode() for h in self.proof]},
        }, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "CheckpointUpdate":
        try:
            data = json.loads(text)
            if data.get("media_type") != CHECKPOINT_UPDATE_TYPE:
                raise BundleError(f"not a checkpoint update (media_type {data.get('media_type')!r})")
            return cls(
                checkpoint=str(data["checkpoint"]),
                old_size=int(data["consistency"]["old_size"]),
                proof=tuple(base64.b64decode(h, validate=True) for h in data["consistency"]["hashes"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise BundleError(f"malformed checkpoint update: {exc}") from exc


HISTORY_TYPE = "application/vnd.guard.case-history.v1+json"
EVENT_LEAF = "dispute_event"


@dataclass(frozen=True)
class LoggedEvent:
    payload: bytes
    """The event, RFC 8785 canonical JSON, exactly as hashed into the chain and the log."""
    log_index: int
    leaf: bytes
    inclusion_proof: tuple[bytes, ...]


@dataclass(frozen=True)
class HistoryBundle:
    """A dispute case's whole history, each event with its inclusion proof against one checkpoint."""

    case_id: str
    events: tuple[LoggedEvent, ...]
    tree_size: int
    checkpoint: str
    keyring: Keyring

    def to_json(self) -> str:
        b64 = base64.b64encode
        return json.dumps({
            "media_type": HISTORY_TYPE, "case_id": self.case_id, "tree_size": self.tree_size,
            "events": [{"payload": b64(e.payload).decode(), "log_index": e.log_index, "leaf": b64(e.leaf).decode(),
                        "inclusion_proof": [b64(h).decode() for h in e.inclusion_proof]} for e in self.events],
            "checkpoint": self.checkpoint, "keyring": json.loads(self.keyring.to_json()),
        }, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "HistoryBundle":
        try:
            data = json.loads(text)
            if data.get("media_type") != HISTORY_TYPE:
                raise BundleError(f"not a case history (media_type {data.get('media_type')!r})")
            decode = base64.b64decode
            return cls(
                case_id=str(data["case_id"]), tree_size=int(data["tree_size"]), checkpoint=str(data["checkpoint"]),
                keyring=Keyring.from_json(json.dumps(data["keyring"])),
                events=tuple(LoggedEvent(decode(e["payload"], validate=True), int(e["log_index"]),
                                         decode(e["leaf"], validate=True),
                                         tuple(decode(h, validate=True) for h in e["inclusion_proof"]))
                             for e in data["events"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error, KeyringError) as exc:
            raise BundleError(f"malformed case history: {exc}") from exc


def media_type(text: str) -> str:
    """Which kind of bundle a file holds, without trusting anything in it."""
    try:
        return str(json.loads(text).get("media_type", ""))
    except (ValueError, AttributeError):
        return ""
