"""Screening: bytes -> PCM -> sub-fingerprints -> verified matches -> verdict -> stored screening."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import fingerprints
import policies
from fingerprints import landmarks, melody
from guard import validation
from guard.analysis_workers import AnalysisWorkers, TrackAnalysis
from guard.catalog import (
    CHROMAPRINT,
    LANDMARKS,
    MELODY,
    Catalog,
    MelodyUpload,
    RecordingPrints,
    WorkLabel,
    decode_audible,
    fingerprint_recording,
)
from guard.config import Limits
from guard.errors import AlreadyExists, InvalidArgument
from guard.policy import PolicyGate
from guard.prompts import PromptCipher
from guard.provenance import dsse, record
from guard.provenance.keyring import KeyStore
from guard.provenance.log import TransparencyLog
from guard.storage.models import (
    PolicyDecisionRow,
    ProvenanceRecordRow,
    ScreeningFingerprintRow,
    ScreeningRow,
)

log = structlog.get_logger("guard.screening")



@dataclass(frozen=True)
class Generation:
    prompt: str = ""
    model_id: str = ""
    model_version: str = ""
    consent_reference: str = ""
    pipeline_id: str = ""
    consent_scope: str = ""
    consent_granted_at: dt.datetime | None = None
    commercial_use: bool = False
    territory: str = ""

    def validated(self, limits: Limits) -> "Generation":
        validation.text("generation.prompt", self.prompt, max_chars=limits.max_prompt_chars)
        for name in ("model_id", "model_version", "consent_reference", "pipeline_id"):
            validation.text(f"generation.{name}", getattr(self, name), max_chars=256)
        if self.territory and not (len(self.territory) == 2 and self.territory.isascii() and self.territory.isupper()):
            raise InvalidArgument("generation.territory must be an ISO 3166-1 alpha-2 code such as 'DE' (or empty)")
        if self.consent_scope and self.consent_scope not in record.CONSENT_SCOPES:
            raise InvalidArgument(
                f"generation.consent_scope must be one of {', '.join(record.CONSENT_SCOPES)} (or empty)"
            )
        return self


@dataclass(frozen=True)
class Evidence:
    """One verified match, in the words the API uses."""

    work_id: str
    title: str
    rights_holder: str
    kind: str
    fingerprint: str
    score: float
    false_match_probability: float
    bit_error_rate: float
    query_start_seconds: float
    query_end_seconds: float
    reference_start_seconds: float
    reference_end_seconds: float
    pitch_shift_semitones: float = 0.0
    """How far the query sounds above the reference (landmarks only; Chromaprint matches are unshifted)."""
    tempo_ratio: float = 1.0
    """Query tempo over reference tempo: 1.1 means the query plays the reference 10% faster."""
    reference_first_bar: int = 0
    reference_last_bar: int = 0
    """Melody matches: the reference's bars holding the quoted notes (inclusive)."""
    repeats: tuple[tuple[float, float], ...] = ()
    """Audio matches: other places in the reference (start, end seconds) whose audio the same query stretch
    reproduces as well: a work that repeats itself holds the copied audio more than once."""
    note_pairs: tuple[dict, ...] = ()
    """Melody matches: the alignment, {"kind", "query": {onset_seconds, pitch} | None,
    "reference": {onset_seconds, pitch, bar} | None} per step (JSON-ready: it is stored as is)."""


@dataclass(frozen=True)
class Screening:
    screening_id: str
    verdict: str
    """allow, review or block: the active policy's decision."""
    decision: policies.Decision
    matches: list[Evidence]
    timings: dict[str, float]
    duration_seconds: float
    audio_sha256: str
    screened_at: dt.datetime
    record_id: str = ""
    log_index: int = -1
    prompt_salt: bytes = b""
    replayed: bool = False
    melody_source: str = ""
    """How the track's melody was screened (a melody file's part, extracted from the audio, or why not)."""


@dataclass
class _Stopwatch:
    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round((time.perf_counter() - start) * 1000, 3)


class Screener:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        cipher: PromptCipher,
        transparency_log: TransparencyLog,
        keys: KeyStore,
        gate: PolicyGate,
        clock: Callable[[], dt.datetime],
        new_id: Callable[[], str],
        random_bytes: Callable[[int], bytes],
        limits: Limits,
        analysis_workers: AnalysisWorkers,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._analysis_workers = analysis_workers
        self._cipher = cipher
        self._log = transparency_log
        self._keys = keys
        self._gate = gate
        self._clock = clock
        self._new_id = new_id
        self._random = random_bytes
        self._limits = limits
        self._melody_path = ThreadPoolExecutor(max_workers=4, thread_name_prefix="melody")
        """The melody path (extraction, then matching) runs beside the audio path (fingerprints, then
        matching): extraction happens in a worker process (guard.analysis_workers), fed while the audio is being
        decoded, and each matcher has its own lock."""
        self._landmark_path = ThreadPoolExecutor(max_workers=4, thread_name_prefix="landmarks")
        """The landmark match runs beside the Chromaprint match: it is the longer of the two, and both spend
        much of their time in FAISS, numba and numpy, which let the other thread run."""

    def close(self) -> None:
        """Let the screenings' path threads finish and end them (the server stops taking calls first)."""
        self._melody_path.shutdown(wait=True)
        self._landmark_path.shutdown(wait=True)

    def screen(self, audio_bytes: bytes, generation: Generation, idempotency_key: str = "",
               melody_file: MelodyUpload | None = None) -> Screening:
        generation.validated(self._limits)
        if idempotency_key:
            validation.identifier("idempotency_key", idempotency_key)
        sha = hashlib.sha256(audio_bytes).hexdigest()
        if idempotency_key:
            earlier = self._by_key(idempotency_key)
            if earlier is not None:
                return self._replay(earlier, sha)
        watch = _Stopwatch()
        given = None
        if melody_file is not None:
            with watch.stage("melody"):  # before decoding: a bad melody file is refused without wasted work
                given = _given_melody(melody_file)
        # Streamed only when the melody is to be extracted: the melody path is what hands the worker back
        # (with a melody file the landmark spectrogram is computed here, after the decode).
        analysis = self._analysis_workers.start(fingerprints.SAMPLE_RATE) if given is None else None
        try:
            with watch.stage("decode"):
                audio = decode_audible(audio_bytes, self._limits, on_samples=analysis.feed if analysis else None)
        except BaseException:
            if analysis is not None:
                analysis.cancel()
            raise
        if analysis is not None:
            analysis.decoded()
        melodic = self._melody_path.submit(self._melody_matches, given, analysis, audio, watch)
        with watch.stage("fingerprint"):
            spectrogram = (analysis.landmark_spectrogram(audio.samples) if analysis is not None
                           else landmarks.log_spectrogram(audio.samples))
            printed = fingerprint_recording(audio, spectrogram)
            landmark_query = landmarks.LandmarkQuery(printed.landmarks, landmarks.find_maxima(spectrogram))
        with watch.stage("match"):
            landmark_matches = self._landmark_path.submit(self._catalog.match_landmarks, landmark_query)
            matches = audio_evidence(self._catalog.match(printed.chromaprint.codes), landmark_matches.result(),
                                     audio.duration)
        melody_matches, tune, melody_source = melodic.result()
        matches += melody_matches
        facts = policies.ScreeningFacts(
            matches=tuple(policies.MatchFacts(m.work_id, m.kind, m.score, flags) for m, flags in matches),
            consent_present=bool(generation.consent_reference),
            consent_scope=generation.consent_scope,
            commercial_use=generation.commercial_use,
            model_id=generation.model_id,
            model_version=generation.model_version,
            duration_seconds=audio.duration,
            territory=generation.territory,
        )
        screening_id = self._new_id()
        with watch.stage("decide"):
            decision = self._gate.active.decide(
                facts, decision_id="dec_" + screening_id.removeprefix("scr_"), now=self._clock())
        screening = Screening(
            screening_id=screening_id,
            verdict=decision.effect,
            decision=decision,
            matches=[m for m, _ in matches],
            timings=watch.stages,
            duration_seconds=round(audio.duration, 3),
            audio_sha256=sha,
            screened_at=self._clock(),
            melody_source=melody_source,
        )
        with watch.stage("store"):
            stored = self._store(screening, generation, idempotency_key, printed, tune, facts)
        if stored is None:
            return self._replay(self._by_key(idempotency_key), sha)
        return stored

    def _melody_matches(self, given: tuple[melody.Melody, str] | None, analysis: TrackAnalysis | None,
                        audio: fingerprints.Audio, watch: _Stopwatch,
                        ) -> tuple[list[tuple[Evidence, tuple[str, ...]]], melody.Melody | None, str]:
        """The melody path: the given melody or the one extracted from the audio, matched; the matches, the
        melody and where it came from."""
        transcribed = given is None
        if transcribed:
            with watch.stage("melody"):
                given = _extracted_melody(audio, analysis)
        tune, source = given
        if tune is None:
            return [], None, source
        with watch.stage("melody_match"):
            return melody_evidence(self._catalog.match_melody(tune, transcribed=transcribed)), tune, source

    def _store(
        self,
        screening: Screening,
        generation: Generation,
        idempotency_key: str,
        printed: RecordingPrints,
        tune: melody.Melody | None,
        facts: policies.ScreeningFacts,
    ) -> Screening | None:
        """Screening, fingerprint, policy decision, signed record and log leaf: one transaction, or nothing.

        None when a concurrent request with the same idempotency key stored its screening first."""
        salt = self._random(16)
        record_id = "rec_" + screening.screening_id.removeprefix("scr_")
        row = ScreeningRow(
            id=screening.screening_id,
            idempotency_key=idempotency_key or None,
            audio_sha256=screening.audio_sha256,
            duration_seconds=screening.duration_seconds,
            model_id=generation.model_id,
            model_version=generation.model_version,
            consent_reference=generation.consent_reference,
            pipeline_id=generation.pipeline_id,
            prompt_ciphertext=self._cipher.encrypt(salt + generation.prompt.encode(), screening.screening_id),
            verdict=screening.verdict,
            matches=[asdict(m) for m in screening.matches],
            timings=screening.timings,
            screened_at=screening.screened_at,
            melody_source=screening.melody_source[:512],
        )
        payload = _record_payload(screening, generation, record_id, salt, printed)
        decision = screening.decision
        try:
            with self._log.appending() as pending, Session(self._engine) as session:
                session.add(row)
                session.flush()
                session.add(ScreeningFingerprintRow(screening_id=row.id, algorithm=CHROMAPRINT,
                                                    codes=printed.chromaprint.to_bytes()))
                session.add(ScreeningFingerprintRow(screening_id=row.id, algorithm=LANDMARKS,
                                                    codes=printed.landmarks.to_bytes()))
                if tune is not None:
                    session.add(ScreeningFingerprintRow(screening_id=row.id, algorithm=MELODY, codes=tune.to_bytes()))
                session.add(PolicyDecisionRow(
                    decision_id=decision.decision_id, screening_id=row.id, bundle_id=decision.bundle_id,
                    revision=decision.revision, bundle_digest=decision.bundle_digest, facts=facts.to_dict(),
                    input_sha256=decision.input_sha256, effect=decision.effect,
                    determining_rules=list(decision.determining_rules), reasons=list(decision.reasons),
                    errors=list(decision.errors), evaluated_at=decision.evaluated_at,
                ))
                integrated_at = self._clock()
                key, private = self._keys.signing_key(integrated_at)
                envelope = dsse.sign(record.PAYLOAD_TYPE, payload, key.key_id, private)
                entry = pending.add_record(session, record_id, row.id, envelope, integrated_at)
                session.commit()
        except IntegrityError:
            if idempotency_key and self._by_key(idempotency_key) is not None:
                return None
            raise
        log.info("screened", screening_id=screening.screening_id, verdict=screening.verdict,
                 matches=len(screening.matches), model_id=generation.model_id, log_index=entry.index)
        return replace(screening, record_id=record_id, log_index=entry.index, prompt_salt=salt)

    def _by_key(self, key: str) -> ScreeningRow | None:
        with Session(self._engine) as session:
            return session.exec(select(ScreeningRow).where(ScreeningRow.idempotency_key == key)).first()

    def _replay(self, row: ScreeningRow | None, sha: str) -> Screening:
        assert row is not None, "a replay follows a lookup that found the screening"
        if row.audio_sha256 != sha:
            raise AlreadyExists(
                "idempotency_key was already used for different audio; use a new key for a new track"
            )
        with Session(self._engine) as session:
            provenance = session.exec(
                select(ProvenanceRecordRow).where(ProvenanceRecordRow.screening_id == row.id)
            ).one()
            stored = session.exec(select(PolicyDecisionRow).where(PolicyDecisionRow.screening_id == row.id)).one()
        secret = self._cipher.decrypt(row.prompt_ciphertext, row.id)
        return Screening(
            screening_id=row.id,
            verdict=row.verdict,
            decision=decision_from_row(stored),
            matches=[Evidence(**{**m, "note_pairs": tuple(m.get("note_pairs", ())),
                                 "repeats": tuple(tuple(span) for span in m.get("repeats", ()))})
                     for m in row.matches],
            timings=dict(row.timings),
            duration_seconds=row.duration_seconds,
            audio_sha256=row.audio_sha256,
            screened_at=row.screened_at,
            record_id=provenance.record_id,
            log_index=provenance.log_index,
            prompt_salt=secret[:16],
            replayed=True,
            melody_source=row.melody_source,
        )


def audio_evidence(
    chromaprint: list[tuple[fingerprints.AudioMatch, WorkLabel]],
    landmark: list[tuple[landmarks.LandmarkMatch, WorkLabel]],
    duration: float,
) -> list[tuple[Evidence, tuple[str, ...]]]:
    """Both fingerprints' matches as evidence (with the work's rights-holder flags), strongest first.

    Where Chromaprint found a stretch, it found it exactly (bit by bit, unshifted), so a landmark match
    of the same work over mostly the same query stretch says nothing more and is dropped; every other
    landmark match is a copy Chromaprint cannot see (re-pitched, re-timed, mixed) and is kept.
    """
    found = [(Evidence(
        work_id=label.work_id, title=label.title, rights_holder=label.rights_holder, kind="audio",
        fingerprint=CHROMAPRINT, score=round(m.score, 9), false_match_probability=m.false_match_probability,
        bit_error_rate=round(m.bit_error_rate, 4), query_start_seconds=round(m.query_start, 3),
        query_end_seconds=round(min(m.query_end, duration), 3), reference_start_seconds=round(m.reference_start, 3),
        reference_end_seconds=round(m.reference_end, 3), repeats=_rounded_spans(m.repeats),
    ), label.flags) for m, label in chromaprint]
    exact = [e for e, _ in found]
    for m, label in landmark:
        length = m.query_end - m.query_start
        if any(e.work_id == label.work_id and min(e.query_end_seconds, m.query_end)
               - max(e.query_start_seconds, m.query_start) > 0.5 * length for e in exact):
            continue
        found.append((Evidence(
            work_id=label.work_id, title=label.title, rights_holder=label.rights_holder, kind="audio",
            fingerprint=LANDMARKS, score=round(m.score, 9), false_match_probability=m.false_match_probability,
            bit_error_rate=0.0, query_start_seconds=round(m.query_start, 3),
            query_end_seconds=round(min(m.query_end, duration), 3),
            reference_start_seconds=round(m.reference_start, 3), reference_end_seconds=round(m.reference_end, 3),
            pitch_shift_semitones=round(m.pitch_shift, 2), tempo_ratio=round(m.tempo_ratio, 4),
            repeats=_rounded_spans(m.repeats),
        ), label.flags))
    found.sort(key=lambda item: (item[0].false_match_probability, item[0].query_start_seconds))
    return found


def _rounded_spans(spans: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    return tuple((round(start, 3), round(end, 3)) for start, end in spans)


NO_MELODY_IN_AUDIO = "no melody found in the audio"


def _given_melody(melody_file: MelodyUpload) -> tuple[melody.Melody, str]:
    """The generator's own melody: screened instead of one extracted from its audio."""
    tune = melody_file.load()
    return tune, f"melody file '{melody_file.filename}': {tune.source}" if tune.source else "melody file"


def _extracted_melody(audio: fingerprints.Audio, analysis: TrackAnalysis) -> tuple[melody.Melody | None, str]:
    try:
        return analysis.melody(audio.samples, audio.sample_rate), "extracted from the audio"
    except melody.NoMelodyFound:
        return None, NO_MELODY_IN_AUDIO


def melody_evidence(found: list[tuple[melody.MelodyMatch, WorkLabel]]) -> list[tuple[Evidence, tuple[str, ...]]]:
    return [(Evidence(
        work_id=label.work_id, title=label.title, rights_holder=label.rights_holder, kind="melody",
        fingerprint=MELODY, score=round(m.score, 9), false_match_probability=m.false_match_probability,
        bit_error_rate=0.0, query_start_seconds=round(m.query_start, 3), query_end_seconds=round(m.query_end, 3),
        reference_start_seconds=round(m.reference_start, 3), reference_end_seconds=round(m.reference_end, 3),
        pitch_shift_semitones=round(m.transposition_semitones, 2), tempo_ratio=round(m.tempo_ratio, 4),
        reference_first_bar=int(m.reference_first_bar), reference_last_bar=int(m.reference_last_bar),
        note_pairs=tuple(_note_pair(p) for p in m.pairs),
    ), label.flags) for m, label in found]


def _note_pair(pair: melody.NotePair) -> dict:
    query = None if pair.query_onset is None else {
        "onset_seconds": round(pair.query_onset, 3), "pitch": round(float(pair.query_pitch), 2)}
    reference = None if pair.reference_onset is None else {
        "onset_seconds": round(pair.reference_onset, 3), "pitch": round(float(pair.reference_pitch), 2),
        "bar": int(pair.reference_bar or 0)}
    return {"kind": pair.kind, "query": query, "reference": reference}


def _record_payload(screening: Screening, generation: Generation, record_id: str, salt: bytes,
                    printed: RecordingPrints) -> bytes:
    return record.canonical(record.build(record.RecordInput(
        record_id=record_id,
        screening_id=screening.screening_id,
        screened_at=screening.screened_at,
        audio_sha256=screening.audio_sha256,
        duration_seconds=screening.duration_seconds,
        fingerprint_codes=printed.chromaprint.codes,
        fingerprint_hop_seconds=fingerprints.FRAME_HOP_S,
        prompt_salted_sha256=record.prompt_hash(generation.prompt, salt),
        model_id=generation.model_id,
        model_version=generation.model_version,
        consent=record.Consent(generation.consent_reference, generation.consent_scope,
                               generation.consent_granted_at),
        pipeline_id=generation.pipeline_id,
        verdict=screening.verdict,
        matches=[record.RecordMatch(
            work_id=m.work_id, kind=m.kind, fingerprint=m.fingerprint, score=m.score,
            false_match_probability=m.false_match_probability,
            query_start_seconds=m.query_start_seconds, query_end_seconds=m.query_end_seconds,
            reference_start_seconds=m.reference_start_seconds, reference_end_seconds=m.reference_end_seconds,
            pitch_shift_semitones=m.pitch_shift_semitones, tempo_ratio=m.tempo_ratio,
        ) for m in screening.matches],
        policy=_policy_summary(screening.decision),
    )))


def decision_from_row(row: PolicyDecisionRow) -> policies.Decision:
    return policies.Decision(
        decision_id=row.decision_id, bundle_id=row.bundle_id, revision=row.revision,
        bundle_digest=row.bundle_digest, input_sha256=row.input_sha256, effect=row.effect,
        determining_rules=tuple(row.determining_rules), reasons=tuple(row.reasons), errors=tuple(row.errors),
        evaluated_at=row.evaluated_at,
    )


def _policy_summary(decision: policies.Decision) -> dict:
    return {
        "decision_id": decision.decision_id,
        "bundle_id": decision.bundle_id,
        "revision": decision.revision,
        "bundle_digest": decision.bundle_digest,
        "input_sha256": decision.input_sha256,
        "decision": decision.effect,
        "determining_rules": list(decision.determining_rules),
        "errors": list(decision.errors),
    }
