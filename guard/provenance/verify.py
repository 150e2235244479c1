"""The auditor's verifier: offline, explicit steps, one verdict per step.

Needs nothing but a bundle (or checkpoint update), a keyring the auditor
trusts, and optionally the checkpoint the auditor last saw. Each step
records what it checked and why it failed; verification never stops at the
first failure, so a report shows everything that is wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from guard.provenance import merkle
from guard.provenance.bundle import (
    EVENT_LEAF,
    RECORD_LEAF,
    Bundle,
    BundleError,
    CheckpointUpdate,
    HistoryBundle,
    Leaf,
)
from guard.provenance.dsse import pae
from guard.provenance.keyring import (
    Keyring,
    KeyringError,
    PublicKey,
    parse_rfc3339,
    rfc3339,
)
from guard.provenance.note import Checkpoint, NoteError, open_note, parse_checkpoint
from guard.provenance.record import PAYLOAD_TYPE, canonical

MAX_SCREENING_TO_LOG = dt.timedelta(minutes=10)
"""A record is logged at screening time; one claiming a screening long before its integration was backdated."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    subject: str
    checks: list[Check] = field(default_factory=list)
    record: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def check(self, name: str, step: Callable[[], str]) -> bool:
        """Run one step; a step raises with the reason it failed, or returns what it established."""
        try:
            self.checks.append(Check(name, True, step()))
            return True
        except (ValueError, KeyError, TypeError, KeyringError, NoteError, BundleError, merkle.ProofError,
                InvalidSignature) as exc:
            self.checks.append(Check(name, False, str(exc) or type(exc).__name__))
            return False

    def to_dict(self) -> dict:
        return {"subject": self.subject, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}


@dataclass(frozen=True)
class SeenCheckpoint:
    """The auditor's memory: the last checkpoint verified and when it was first seen."""

    checkpoint: Checkpoint
    note: str
    observed_at: dt.datetime

    def to_json(self) -> str:
        return json.dumps({"note": self.note, "observed_at": rfc3339(self.observed_at)}, indent=2)

    @classmethod
    def from_json(cls, text: str, keyring: Keyring) -> "SeenCheckpoint":
        data = json.loads(text)
        checkpoint, _ = open_checkpoint(data["note"], keyring)
        return cls(checkpoint, data["note"], parse_rfc3339(data["observed_at"]))


def open_checkpoint(note: str, keyring: Keyring) -> tuple[Checkpoint, PublicKey]:
    """The checkpoint, once a key of the keyring, named after the log's origin, has signed it."""
    failures = []
    for key in keyring.keys:
        try:
            checkpoint = parse_checkpoint(open_note(note, keyring.origin, key.public_key))
        except NoteError as exc:
            failures.append(str(exc))
            continue
        if checkpoint.origin != keyring.origin:
            raise NoteError(f"checkpoint is for log '{checkpoint.origin}', not '{keyring.origin}'")
        return checkpoint, key
    raise NoteError(f"no key of the keyring signed this checkpoint ({'; '.join(failures[-1:])})")


def verify_bundle(bundle: Bundle, keyring: Keyring, seen: SeenCheckpoint | None = None) -> Report:
    report = Report(subject=f"log entry {bundle.log_index}")
    envelope = bundle.envelope
    state: dict = {}

    def payload_type() -> str:
        if envelope.payload_type != PAYLOAD_TYPE:
            raise ValueError(f"payload type is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}")
        return PAYLOAD_TYPE

    def canonical_form() -> str:
        record = json.loads(envelope.payload)
        if canonical(record) != envelope.payload:
            raise ValueError("payload is not RFC 8785 canonical JSON")
        state["record"] = record
        report.record = record
        report.subject = f"record {record.get('record_id')} (log entry {bundle.log_index})"
        return f"record {record.get('record_id')}"

    def signature() -> str:
        for sig in envelope.signatures:
            key = keyring.get(sig.keyid)
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(sig.sig, pae(envelope.payload_type,
                                                                                  envelope.payload))
            state["key"] = key
            return f"Ed25519 signature by {key.key_id} over the exact payload bytes"
        raise ValueError("envelope carries no signature")

    def leaf() -> str:
        decoded = Leaf.decode(bundle.leaf)
        if decoded.kind != RECORD_LEAF:
            raise ValueError(f"log entry is a {decoded.kind!r}, not a provenance record")
        digest = hashlib.sha256(envelope.payload).hexdigest()
        if decoded.payload_sha256 != digest:
            raise ValueError("log entry commits to a different payload")
        record = state.get("record")
        if record is not None and decoded.subject != record.get("record_id"):
            raise ValueError(f"log entry names record {decoded.subject}, the payload is {record.get('record_id')}")
        state["leaf"] = decoded
        return f"integrated at {rfc3339(decoded.integrated_at)}"

    def key_window() -> str:
        key, entry = state["key"], state["leaf"]
        if not key.usable_at(entry.integrated_at):
            raise ValueError(f"key {key.key_id} was not valid at integration time {rfc3339(entry.integrated_at)}"
                             + (f" (compromised from {rfc3339(key.compromised_at)})" if key.compromised_at else ""))
        return f"{key.key_id} valid at {rfc3339(entry.integrated_at)}"

    def timing() -> str:
        screened = parse_rfc3339(state["record"]["screened_at"])
        integrated = state["leaf"].integrated_at
        if screened > integrated:
            raise ValueError(f"record claims screening at {rfc3339(screened)}, after its integration")
        if integrated - screened > MAX_SCREENING_TO_LOG:
            raise ValueError(f"record claims screening at {rfc3339(screened)} but was integrated at "
                             f"{rfc3339(integrated)}: backdated")
        return f"screened {rfc3339(screened)}, integrated {rfc3339(integrated)}"

    def checkpoint_signature() -> str:
        checkpoint, key = open_checkpoint(bundle.checkpoint, keyring)
        state["checkpoint"], state["checkpoint_key"] = checkpoint, key
        return f"{checkpoint.origin} size {checkpoint.size} signed by {key.key_id}"

    def checkpoint_key_window() -> str:
        key, entry = state["checkpoint_key"], state["leaf"]
        if not key.usable_at(entry.integrated_at):
            raise ValueError(f"checkpoint key {key.key_id} was not valid when the entry was integrated")
        return f"{key.key_id} valid at {rfc3339(entry.integrated_at)}"

    def inclusion() -> str:
        checkpoint = state["checkpoint"]
        if bundle.tree_size != checkpoint.size:
            raise ValueError(f"proof is for size {bundle.tree_size}, the checkpoint for {checkpoint.size}")
        merkle.verify_inclusion(merkle.leaf_hash(bundle.leaf), bundle.log_index, checkpoint.size,
                                bundle.inclusion_proof, checkpoint.root)
        return f"entry {bundle.log_index} is in the tree of size {checkpoint.size}"

    def against_seen() -> str:
        assert seen is not None
        checkpoint, entry = state["checkpoint"], state["leaf"]
        if checkpoint.size == seen.checkpoint.size and checkpoint.root != seen.checkpoint.root:
            raise ValueError("checkpoint has the size of the one last seen but another root: the log forked")
        if bundle.log_index >= seen.checkpoint.size and entry.integrated_at < seen.observed_at:
            raise ValueError(
                f"entry {bundle.log_index} was not in the log of size {seen.checkpoint.size} seen at "
                f"{rfc3339(seen.observed_at)}, yet claims integration at {rfc3339(entry.integrated_at)}: backdated"
            )
        return f"consistent with the checkpoint of size {seen.checkpoint.size} seen at {rfc3339(seen.observed_at)}"

    report.check("payload type", payload_type)
    report.check("canonical form", canonical_form)
    signed = report.check("signature", signature)
    logged = report.check("log entry", leaf)
    if signed and logged:
        report.check("key validity at integration", key_window)
    if logged and "record" in state:
        report.check("screening time", timing)
    if report.check("checkpoint signature", checkpoint_signature) and logged:
        report.check("checkpoint key validity", checkpoint_key_window)
        report.check("inclusion proof", inclusion)
        if seen is not None:
            report.check("against last seen checkpoint", against_seen)
    return report


def verify_checkpoint_update(
    update: CheckpointUpdate, keyring: Keyring, seen: SeenCheckpoint | None, now: dt.datetime
) -> tuple[Report, SeenCheckpoint | None]:
    """Verify a new checkpoint against the last one seen; returns the report and what to remember next."""
    report = Report(subject="checkpoint")
    state: dict = {}

    def signature() -> str:
        checkpoint, key = open_checkpoint(update.checkpoint, keyring)
        state["checkpoint"] = checkpoint
        report.subject = f"checkpoint {checkpoint.origin} size {checkpoint.size}"
        return f"signed by {key.key_id}"

    def consistency() -> str:
        new = state["checkpoint"]
        if seen is None:
            return "first checkpoint seen: remembered (trust on first use)"
        old = seen.checkpoint
        if new.size < old.size:
            raise ValueError(f"the log shrank from {old.size} to {new.size} entries: history was rewritten")
        if new.size == old.size:
            merkle.verify_consistency(old.size, new.size, old.root, new.root, ())
            return f"same tree as the checkpoint seen at {rfc3339(seen.observed_at)}"
        if update.old_size != old.size:
            raise ValueError(f"a consistency proof from size {old.size} is required (the update has one from "
                             f"{update.old_size})")
        merkle.verify_consistency(old.size, new.size, old.root, new.root, update.proof)
        return f"extends the tree of size {old.size} without rewriting it"

    if report.check("checkpoint signature", signature):
        report.check("consistency with last seen", consistency)
    if not report.ok:
        return report, seen
    new = state["checkpoint"]
    if seen is not None and new.size == seen.checkpoint.size:
        return report, seen
    return report, SeenCheckpoint(new, update.checkpoint, now)


def verify_history(bundle: HistoryBundle, keyring: Keyring) -> Report:
    """A case's events: canonical, chained by hash from the first, each in the log under one signed checkpoint."""
    report = Report(subject=f"case {bundle.case_id} history ({len(bundle.events)} events)")
    state: dict = {}

    def checkpoint_signature() -> str:
        checkpoint, key = open_checkpoint(bundle.checkpoint, keyring)
        if bundle.tree_size != checkpoint.size:
            raise ValueError(f"proofs are for size {bundle.tree_size}, the checkpoint for {checkpoint.size}")
        state["checkpoint"] = checkpoint
        return f"{checkpoint.origin} size {checkpoint.size} signed by {key.key_id}"

    def chain() -> str:
        previous = ""
        for expected, logged in enumerate(bundle.events):
            event = json.loads(logged.payload)
            if canonical(event) != logged.payload:
                raise ValueError(f"event {expected} is not RFC 8785 canonical JSON")
            if event.get("case_id") != bundle.case_id or event.get("sequence") != expected:
                raise ValueError(f"event {expected} is out of place (case {event.get('case_id')}, "
                                 f"sequence {event.get('sequence')}): reordered or dropped")
            if event.get("previous_hash") != previous:
                raise ValueError(f"event {expected} does not follow event {expected - 1}: the chain is broken")
            previous = hashlib.sha256(logged.payload).hexdigest()
        return f"{len(bundle.events)} events chained from 'open'"

    def inclusion() -> str:
        checkpoint = state["checkpoint"]
        for logged in bundle.events:
            leaf = Leaf.decode(logged.leaf)
            event = json.loads(logged.payload)
            if leaf.kind != EVENT_LEAF or leaf.subject != f"{bundle.case_id}#{event.get('sequence')}":
                raise ValueError(f"log entry {logged.log_index} is not this case's event {event.get('sequence')}")
            if leaf.payload_sha256 != hashlib.sha256(logged.payload).hexdigest():
                raise ValueError(f"log entry {logged.log_index} commits to a different event")
            merkle.verify_inclusion(merkle.leaf_hash(logged.leaf), logged.log_index, checkpoint.size,
                                    logged.inclusion_proof, checkpoint.root)
        return f"every event is in the log of size {checkpoint.size}"

    if not bundle.events:
        report.checks.append(Check("events", False, "the history is empty"))
        return report
    report.check("chain", chain)
    if report.check("checkpoint signature", checkpoint_signature):
        report.check("inclusion proofs", inclusion)
    return report
