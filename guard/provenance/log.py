"""The transparency log as the service runs it: leaves in the database, the Merkle tree in memory.

A leaf is written in the same database transaction as the thing it logs,
under one lock, so log indexes are dense and a crash leaves either both or
neither. The in-memory tree is derived: it is rebuilt from the stored leaf
hashes at start and extended only after a commit succeeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from guard.provenance import merkle
from guard.provenance.bundle import RECORD_LEAF, Bundle, CheckpointUpdate, Leaf
from guard.provenance.dsse import Envelope
from guard.provenance.keyring import Keyring, KeyStore
from guard.provenance.note import Checkpoint, sign_note
from guard.storage.models import CheckpointRow, LogEntryRow, ProvenanceRecordRow

_INSERT_ENTRY = LogEntryRow.__table__.insert()  # type: ignore[attr-defined]
_INSERT_RECORD = ProvenanceRecordRow.__table__.insert()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoggedEntry:
    index: int
    leaf: Leaf
    leaf_bytes: bytes


class PendingAppends:
    """Leaves added inside one transaction; they reach the tree only if that transaction commits."""

    def __init__(self, first_index: int) -> None:
        self._next = first_index
        self.entries: list[LoggedEntry] = []

    def add(self, session: Session, kind: str, subject: str, payload: bytes, at: dt.datetime) -> LoggedEntry:
        """Log `payload` (by digest) as integrated `at`, in `session`'s transaction.

        A compiled Core insert rather than an ORM add: the log is the write hot path, and the ORM's
        unit of work costs more than the commit itself."""
        leaf = Leaf(kind, subject, hashlib.sha256(payload).hexdigest(), at)
        data = leaf.encode()
        entry = LoggedEntry(self._next, leaf, data)
        session.connection().execute(_INSERT_ENTRY, {
            "index": entry.index, "kind": kind, "subject": subject, "leaf": data,
            "leaf_hash": merkle.leaf_hash(data), "integrated_at": leaf.integrated_at,
        })
        self._next += 1
        self.entries.append(entry)
        return entry

    def add_record(self, session: Session, record_id: str, screening_id: str, envelope: Envelope,
                   at: dt.datetime) -> LoggedEntry:
        """Store a signed provenance record and log it, in `session`'s transaction."""
        entry = self.add(session, RECORD_LEAF, record_id, envelope.payload, at)
        session.connection().execute(_INSERT_RECORD, {
            "record_id": record_id, "screening_id": screening_id, "envelope": envelope.to_json(),
            "key_id": envelope.signatures[0].keyid, "log_index": entry.index,
        })
        return entry


class TransparencyLog:
    def __init__(self, engine: Engine, keys: KeyStore, clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock
        self._lock = threading.Lock()
        self._tree = merkle.MerkleTree(self._stored_leaf_hashes())

    @property
    def origin(self) -> str:
        return self._keys.keyring().origin

    def keyring(self) -> Keyring:
        return self._keys.keyring()

    @property
    def size(self) -> int:
        return self._tree.size

    @contextmanager
    def appending(self) -> Iterator[PendingAppends]:
        """Serialise writers; commit the transaction inside the block, the tree follows on success."""
        with self._lock:
            pending = PendingAppends(self._tree.size)
            yield pending
            for entry in pending.entries:
                self._tree.append(merkle.leaf_hash(entry.leaf_bytes))

    def checkpoint(self) -> tuple[Checkpoint, str]:
        """The signed checkpoint for the current size, signing (and storing) one if none exists yet."""
        with self._lock:
            size = self._tree.size
            with Session(self._engine) as session:
                row = session.get(CheckpointRow, size)
                if row is not None:
                    return Checkpoint(self.origin, size, row.root), row.note
                now = self._clock()
                checkpoint = Checkpoint(self.origin, size, self._tree.root(size))
                _, key = self._keys.signing_key(now)
                note = sign_note(checkpoint.body(), checkpoint.origin, key)
                session.add(CheckpointRow(size=size, root=checkpoint.root, note=note, signed_at=now))
                session.commit()
                return checkpoint, note

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self._tree.consistency_proof(old_size, new_size)

    def checkpoint_update(self, old_size: int) -> CheckpointUpdate:
        checkpoint, note = self.checkpoint()
        return CheckpointUpdate(note, old_size, tuple(self.consistency_proof(old_size, checkpoint.size)))

    def bundle(self, record: ProvenanceRecordRow) -> Bundle:
        checkpoint, note = self.checkpoint()
        with Session(self._engine) as session:
            entry = session.get(LogEntryRow, record.log_index)
        assert entry is not None, "a record without its log entry cannot exist (same transaction)"
        return Bundle(
            envelope=Envelope.from_json(record.envelope),
            log_index=record.log_index,
            leaf=entry.leaf,
            tree_size=checkpoint.size,
            inclusion_proof=tuple(self.inclusion_proof(record.log_index, checkpoint.size)),
            checkpoint=note,
            keyring=self.keyring(),
        )

    def _stored_leaf_hashes(self) -> list[bytes]:
        with Session(self._engine) as session:
            rows = session.exec(select(LogEntryRow.index, LogEntryRow.leaf_hash).order_by(col(LogEntryRow.index)))
            hashes = []
            for expected, (index, leaf_hash) in enumerate(rows):
                if index != expected:
                    raise RuntimeError(f"transparency log has a gap at index {expected}; refusing to start")
                hashes.append(bytes(leaf_hash))
        return hashes
