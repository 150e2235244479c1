"""The catalog of known works: rows in storage, and the audio matcher derived from them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import fingerprints
from fingerprints import landmarks, melody
from guard import validation
from guard.config import Limits
from guard.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from guard.storage.models import WorkFingerprintRow, WorkRow

log = structlog.get_logger("guard.catalog")

ACTIVE = "active"
RETIRED = "retired"
CHROMAPRINT = "chromaprint"
LANDMARKS = "landmarks"
MELODY = "melody"
NO_MELODY_IN_RECORDING = "no melody found in the recording"
MELODY_MAX_FALSE_MATCH = 0.003
"""Melodic matches reported: false-match probability at most 0.3%. The package's nominal 1% threshold lets
0.7-2.7% of unrelated folk phrases through against catalogs of 20 to 10,000 tunes, and 0.3% lets 0.0-1.2%
through (docs/melody.md, "The null across catalog sizes"); every screened track pays that rate, so the service
is stricter."""
_INDEX_FILE = "audio.faiss"
_LANDMARK_INDEX_FILE = "landmarks.npz"
_MELODY_INDEX_FILE = "melodies.npz"
_INDEX_META = "audio.json"


@dataclass(frozen=True)
class RecordingPrints:
    """Both audio fingerprints of one recording: Chromaprint for near-identical audio, landmarks for
    audio that was re-pitched, re-timed or mixed under other material."""

    chromaprint: fingerprints.AudioFingerprint
    landmarks: landmarks.LandmarkFingerprint


def fingerprint_recording(audio: fingerprints.Audio, landmark_spectrogram: np.ndarray | None = None) -> RecordingPrints:
    """Both audio fingerprints; the landmark one from `landmark_spectrogram` when it was computed already."""
    if landmark_spectrogram is None:
        landmark_spectrogram = landmarks.log_spectrogram(audio.samples)
    return RecordingPrints(fingerprints.fingerprint(audio), landmarks.find_peaks(landmark_spectrogram))


@dataclass(frozen=True)
class MelodyUpload:
    """A melody file as sent: MIDI, MusicXML or ABC bytes and the file's name (a hint to its format)."""

    content: bytes
    filename: str = ""

    def load(self) -> melody.Melody:
        if not self.content:
            raise InvalidArgument("melody.content is empty; send the bytes of a MIDI, MusicXML or ABC file")
        return melody.load_symbolic(self.content, self.filename)


@dataclass(frozen=True)
class WorkDetails:
    work_id: str
    title: str
    rights_holder: str
    isrc: str = ""
    iswc: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def validated(self, limits: Limits) -> "WorkDetails":
        validation.identifier("work_id", self.work_id)
        validation.text("title", self.title, max_chars=512, required=True)
        validation.text("rights_holder", self.rights_holder, max_chars=512, required=True)
        validation.pattern("isrc", self.isrc, validation.ISRC, "CC-XXX-YY-NNNNN")
        validation.pattern("iswc", self.iswc, validation.ISWC, "T-123.456.789-0")
        validation.metadata(self.metadata, max_chars=limits.max_metadata_chars)
        for flag in self.flags:
            validation.identifier("rights_holder_flags", flag)
        return self


@dataclass(frozen=True)
class WorkLabel:
    """What a match needs to say about its work."""

    work_id: str
    title: str
    rights_holder: str
    flags: tuple[str, ...] = ()


def decode_audible(data: bytes, limits: Limits,
                   on_samples: Callable[[np.ndarray], None] | None = None) -> fingerprints.Audio:
    """Decode for fingerprinting, refusing silence (it would match every other silence); `on_samples` sees
    the samples as they are decoded (fingerprints.decode)."""
    audio = fingerprints.decode(data, sample_rate=fingerprints.SAMPLE_RATE, max_seconds=limits.max_audio_seconds,
                                on_samples=on_samples)
    if fingerprints.is_silent(audio):
        raise InvalidArgument("the audio is silent (peak below -60 dBFS); there is nothing to fingerprint")
    return audio


class Catalog:
    """Registers and retires works; keeps both matchers and their persisted indexes in step with storage."""

    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        clock: Callable[[], dt.datetime],
        limits: Limits,
        on_new_work: Callable[[WorkRow, fingerprints.AudioFingerprint], None] | None = None,
        *,
        extract_melody: Callable[[np.ndarray, int], melody.Melody],
    ) -> None:
        self._engine = engine
        self._extract_melody = extract_melody
        self._on_new_work = on_new_work
        self._index_dir = index_dir
        self._clock = clock
        self._limits = limits
        self._audio_lock = threading.Lock()
        self._landmark_lock = threading.Lock()
        self._melody_lock = threading.Lock()
        """One lock a matcher, so that one screening's melody matching runs beside its audio matching."""
        self._labels: dict[int, WorkLabel] = {}
        self._dirty = threading.Event()
        self.matcher, self.landmarks = self._load_or_rebuild()
        self.melodies = self._load_melodies()

    def register(self, details: WorkDetails, recording: bytes,
                 melody_file: MelodyUpload | None = None) -> tuple[WorkRow, bool]:
        """Store the work and its fingerprints in one transaction, then index them. Idempotent on work_id.

        A recording gives both audio fingerprints and, without a melody file, the melody extracted from it;
        a melody file (a lead sheet) gives the melody, which is how many catalogs hold their works."""
        details.validated(self._limits)
        if not recording and melody_file is None:
            raise InvalidArgument("a work needs a recording, a melody file, or both")
        sha = hashlib.sha256(recording).hexdigest() if recording else ""
        melody_sha = hashlib.sha256(melody_file.content).hexdigest() if melody_file is not None else ""
        existing = self._find(details.work_id)
        if existing is not None:
            return self._same_registration(existing, sha, melody_sha), False
        audio = decode_audible(recording, self._limits) if recording else None
        printed = fingerprint_recording(audio) if audio is not None else None
        tune, tune_source = self._melody_of(melody_file, audio)
        row = WorkRow(
            work_id=details.work_id,
            title=details.title,
            rights_holder=details.rights_holder,
            isrc=details.isrc,
            iswc=details.iswc,
            extra=dict(details.metadata),
            flags=sorted(set(details.flags)),
            recording_sha256=sha,
            recording_seconds=round(audio.duration, 3) if audio is not None else 0.0,
            melody_sha256=melody_sha,
            melody_source=tune_source[:512],
            melody_notes=len(tune) if tune is not None else 0,
            state=ACTIVE,
            registered_at=self._clock(),
        )
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                session.add(row)
                session.flush()
                if printed is not None:
                    session.add(WorkFingerprintRow(work_number=row.number, algorithm=CHROMAPRINT,
                                                   codes=printed.chromaprint.to_bytes()))
                    session.add(WorkFingerprintRow(work_number=row.number, algorithm=LANDMARKS,
                                                   codes=printed.landmarks.to_bytes()))
                if tune is not None:
                    session.add(WorkFingerprintRow(work_number=row.number, algorithm=MELODY, codes=tune.to_bytes()))
                session.commit()
        except IntegrityError:
            existing = self._find(details.work_id)
            if existing is None:
                raise
            return self._same_registration(existing, sha, melody_sha), False
        with self._exclusive():
            self._labels[row.number] = _label(row)
            if printed is not None:
                self.matcher.add(row.number, printed.chromaprint.codes)
                if self.matcher.index.outgrown:
                    self.matcher = self.matcher.rebuilt()
                self.landmarks.add(row.number, printed.landmarks)
                self._dirty.set()
            if tune is not None:
                self.melodies.add(row.number, tune)
                self._dirty.set()
        log.info("work_registered", work_id=row.work_id, seconds=row.recording_seconds,
                 melody_notes=row.melody_notes)
        if self._on_new_work is not None and printed is not None:
            self._on_new_work(row, printed.chromaprint)
        return row, True

    def get(self, work_id: str) -> WorkRow:
        row = self._find(work_id)
        if row is None:
            raise NotFound(f"no work with work_id '{work_id}'")
        return row

    def list(self, *, after: int, limit: int, include_retired: bool) -> list[WorkRow]:
        with Session(self._engine) as session:
            query = select(WorkRow).where(col(WorkRow.number) > after)
            if not include_retired:
                query = query.where(WorkRow.state == ACTIVE)
            return list(session.exec(query.order_by(col(WorkRow.number)).limit(limit)))

    def retire(self, work_id: str, reason: str) -> WorkRow:
        validation.text("reason", reason, max_chars=1024)
        with Session(self._engine, expire_on_commit=False) as session:
            row = session.exec(select(WorkRow).where(WorkRow.work_id == work_id)).first()
            if row is None:
                raise NotFound(f"no work with work_id '{work_id}'")
            if row.state == RETIRED:
                return row
            row.state = RETIRED
            row.retired_at = self._clock()
            row.retired_reason = reason
            session.add(row)
            session.commit()
        with self._exclusive():
            self.matcher.remove(row.number)
            self.landmarks.remove(row.number)
            self.melodies.remove(row.number)
            self._labels.pop(row.number, None)
            self._dirty.set()
        log.info("work_retired", work_id=work_id)
        return row

    def match(self, codes: np.ndarray) -> list[tuple[fingerprints.AudioMatch, WorkLabel]]:
        with self._audio_lock:
            return self._labelled(self.matcher.match(codes))

    def match_landmarks(self, query: landmarks.LandmarkQuery) -> list[tuple[landmarks.LandmarkMatch, WorkLabel]]:
        with self._landmark_lock:
            return self._labelled(self.landmarks.match(query))

    def match_melody(self, tune: melody.Melody, *, transcribed: bool) -> list[tuple[melody.MelodyMatch, WorkLabel]]:
        """`transcribed`: extracted from the screened audio rather than sent as a score (MelodyMatcher.match)."""
        with self._melody_lock:
            return self._labelled(self.melodies.match(tune, max_false_match=MELODY_MAX_FALSE_MATCH,
                                                      transcribed=transcribed))

    def _labelled(self, found: list) -> list:
        """Matches with their work's label; a work retired meanwhile drops out."""
        return [(m, label) for m in found if (label := self._labels.get(m.work_number)) is not None]

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Every matcher at once, always taken in this order: for changing or saving the indexes."""
        with self._audio_lock, self._landmark_lock, self._melody_lock:
            yield

    def persist(self) -> bool:
        """Write the index if it changed since the last write; the database stays the source of truth."""
        if not self._dirty.is_set():
            return False
        with self._exclusive():
            self._dirty.clear()
            self._index_dir.mkdir(parents=True, exist_ok=True)
            meta = self._index_dir / _INDEX_META
            meta.unlink(missing_ok=True)
            self.matcher.index.save(self._index_dir / _INDEX_FILE)
            self.landmarks.save(self._index_dir / _LANDMARK_INDEX_FILE)
            self.melodies.save(self._index_dir / _MELODY_INDEX_FILE)
            digest = _catalog_digest(self._active_recordings())
            tmp = meta.with_suffix(".tmp")
            tmp.write_text(json.dumps({"catalog_digest": digest}))
            tmp.replace(meta)
        return True

    def _same_registration(self, existing: WorkRow, sha: str, melody_sha: str) -> WorkRow:
        if existing.state == RETIRED:
            raise FailedPrecondition(f"work_id '{existing.work_id}' was retired; identifiers are never reused")
        for what, stored, sent in (("recording", existing.recording_sha256, sha),
                                   ("melody file", existing.melody_sha256, melody_sha)):
            if stored != sent:
                raise AlreadyExists(
                    f"work_id '{existing.work_id}' is registered with a different {what}; "
                    "retire it and register the new material under a new work_id"
                )
        return existing

    def _melody_of(self, melody_file: MelodyUpload | None,
                   audio: fingerprints.Audio | None) -> tuple[melody.Melody | None, str]:
        """The work's tune and where it comes from: the melody file, else the recording, else none."""
        if melody_file is not None:
            tune = melody_file.load()
            return tune, tune.source or f"melody file '{melody_file.filename}'"
        try:
            return self._extract_melody(audio.samples, audio.sample_rate), "extracted from the recording"
        except melody.NoMelodyFound:
            return None, NO_MELODY_IN_RECORDING

    def _find(self, work_id: str) -> WorkRow | None:
        with Session(self._engine) as session:
            return session.exec(select(WorkRow).where(WorkRow.work_id == work_id)).first()

    def _active_recordings(self) -> list[tuple[int, str]]:
        with Session(self._engine) as session:
            rows = session.exec(
                select(WorkRow.number, WorkRow.recording_sha256).where(WorkRow.state == ACTIVE)
            ).all()
        return sorted((int(n), s) for n, s in rows)

    def _load_or_rebuild(self) -> tuple[fingerprints.AudioMatcher, landmarks.LandmarkMatcher]:
        with Session(self._engine) as session:
            works = {w.number: w for w in session.exec(select(WorkRow).where(WorkRow.state == ACTIVE))}
            rows = session.exec(  # melodies are _load_melodies' to read
                select(WorkFingerprintRow)
                .join(WorkRow, WorkFingerprintRow.work_number == WorkRow.number)
                .where(WorkRow.state == ACTIVE, col(WorkFingerprintRow.algorithm).in_((CHROMAPRINT, LANDMARKS)))
            ).all()
        references = {f.work_number: fingerprints.AudioFingerprint.from_bytes(f.codes).codes
                      for f in rows if f.algorithm == CHROMAPRINT}
        peaks = {f.work_number: landmarks.LandmarkFingerprint.from_bytes(f.codes)
                 for f in rows if f.algorithm == LANDMARKS}
        if len(peaks) < len(references):
            log.warning("works_without_landmarks", works=len(references) - len(peaks),
                        hint="registered before the landmark fingerprint existed: pitch- and tempo-changed copies "
                             "of them are not found; retire them and register their recordings again")
        self._labels = {number: _label(w) for number, w in works.items()}
        digest = _catalog_digest(sorted((w.number, w.recording_sha256) for w in works.values()))
        meta = self._index_dir / _INDEX_META
        index_file = self._index_dir / _INDEX_FILE
        landmark_file = self._index_dir / _LANDMARK_INDEX_FILE
        if meta.exists() and index_file.exists() and landmark_file.exists():
            try:
                if json.loads(meta.read_text()).get("catalog_digest") == digest:
                    log.info("index_loaded", works=len(references))
                    return (fingerprints.AudioMatcher(fingerprints.AudioIndex.load(index_file), references),
                            landmarks.LandmarkMatcher.load(landmark_file, peaks.items()))
            except (ValueError, RuntimeError, OSError, KeyError, zipfile.BadZipFile) as exc:
                log.warning("index_unreadable", error=str(exc))
        log.info("index_rebuilt", works=len(references))
        self._dirty.set()
        return fingerprints.AudioMatcher.build(references.items()), landmarks.LandmarkMatcher.build(peaks.items())

    def _load_melodies(self) -> melody.MelodyMatcher:
        """The saved melody index when it was saved from exactly the stored melodies, else rebuilt from them
        (10,000 tunes: 1.4 s to load, 9.3 s to build; docs/benchmarks.md, melody section)."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(WorkFingerprintRow.work_number, WorkFingerprintRow.codes)
                .join(WorkRow, WorkFingerprintRow.work_number == WorkRow.number)
                .where(WorkRow.state == ACTIVE, WorkFingerprintRow.algorithm == MELODY)
            ).all()
        saved = self._index_dir / _MELODY_INDEX_FILE
        if rows and not saved.exists():
            self._dirty.set()  # built now: write it at the next persist so the next start loads it
        return melody.MelodyMatcher.load(saved, [(number, melody.Melody.from_bytes(codes)) for number, codes in rows])


def _label(row: WorkRow) -> WorkLabel:
    return WorkLabel(row.work_id, row.title, row.rights_holder, tuple(row.flags))


def _catalog_digest(recordings: list[tuple[int, str]]) -> str:
    return hashlib.sha256(json.dumps(recordings).encode()).hexdigest()
