"""The provenance record: what was generated, from what, by whom, with whose consent, and what screening found.

Encoded as RFC 8785 (JCS) canonical JSON so that any verifier re-derives
the exact signed bytes. JSON numbers are only integers here (milliseconds,
basis points); anything JSON cannot carry exactly (a probability) is a
string.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import rfc8785

from guard.provenance.keyring import rfc3339

PAYLOAD_TYPE = "application/vnd.guard.provenance.v1+json"
RECORD_TYPE = "https://guard.dev/provenance/v1"
SOFT_BINDING_ALG = "guard.chromaprint.v1"
SOFT_BINDING_BLOCK_S = 30.0
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CONSENT_SCOPES = ("personal", "commercial", "research", "internal")


@dataclass(frozen=True)
class Consent:
    reference: str
    scope: str
    granted_at: dt.datetime | None


@dataclass(frozen=True)
class RecordMatch:
    work_id: str
    kind: str
    fingerprint: str
    score: float
    false_match_probability: float
    query_start_seconds: float
    query_end_seconds: float
    reference_start_seconds: float
    reference_end_seconds: float
    pitch_shift_semitones: float = 0.0
    tempo_ratio: float = 1.0


@dataclass(frozen=True)
class RecordInput:
    record_id: str
    screening_id: str
    screened_at: dt.datetime
    audio_sha256: str
    duration_seconds: float
    fingerprint_codes: np.ndarray
    fingerprint_hop_seconds: float
    prompt_salted_sha256: str
    model_id: str
    model_version: str
    consent: Consent
    pipeline_id: str
    verdict: str
    matches: Sequence[RecordMatch]
    policy: dict | None = None
    """The policy decision (id, bundle, digest, effect, determining rules) this verdict came from."""


def prompt_hash(prompt: str, salt: bytes) -> str:
    """SHA-256(salt || UTF-8 prompt): provable by whoever holds the salt, opaque to everyone else."""
    return hashlib.sha256(salt + prompt.encode()).hexdigest()


def soft_binding(codes: np.ndarray, hop_seconds: float, duration_seconds: float) -> dict:
    """C2PA-style soft binding: digests of the fingerprint over consecutive time spans."""
    per_block = max(1, int(round(SOFT_BINDING_BLOCK_S / hop_seconds)))
    blocks = []
    for start in range(0, max(len(codes), 1), per_block):
        chunk = codes[start:start + per_block].astype("<u4").tobytes()
        begin_ms = int(round(start * hop_seconds * 1000))
        end_ms = min(int(round((start + per_block) * hop_seconds * 1000)), _ms(duration_seconds))
        blocks.append({
            "scope": {"timespan": {"start_ms": begin_ms, "end_ms": max(end_ms, begin_ms)}},
            "value": hashlib.sha256(chunk).hexdigest(),
        })
    return {
        "alg": SOFT_BINDING_ALG,
        "digest": hashlib.sha256(codes.astype("<u4").tobytes()).hexdigest(),
        "blocks": blocks,
    }


def build(record: RecordInput) -> dict:
    return {
        "type": RECORD_TYPE,
        "record_id": record.record_id,
        "screening_id": record.screening_id,
        "screened_at": rfc3339(record.screened_at),
        "audio": {"sha256": record.audio_sha256, "duration_ms": _ms(record.duration_seconds)},
        "soft_binding": soft_binding(record.fingerprint_codes, record.fingerprint_hop_seconds,
                                     record.duration_seconds),
        "prompt": {"alg": "sha256(salt||utf8(prompt))", "salted_sha256": record.prompt_salted_sha256},
        "model": {"id": record.model_id, "version": record.model_version},
        "consent": {
            "reference": record.consent.reference,
            "scope": record.consent.scope,
            "granted_at": rfc3339(record.consent.granted_at) if record.consent.granted_at else None,
        },
        "pipeline_id": record.pipeline_id,
        "screening": {
            "verdict": record.verdict,
            "matches": [
                {
                    "work_id": m.work_id,
                    "kind": m.kind,
                    "fingerprint": m.fingerprint,
                    "score_bp": int(round(m.score * 10_000)),
                    "false_match_probability": f"{m.false_match_probability:.3e}",
                    "query_ms": [_ms(m.query_start_seconds), _ms(m.query_end_seconds)],
                    "reference_ms": [_ms(m.reference_start_seconds), _ms(m.reference_end_seconds)],
                    "pitch_shift_cents": int(round(m.pitch_shift_semitones * 100)),
                    "tempo_ratio_bp": int(round(m.tempo_ratio * 10_000)),
                }
                for m in record.matches
            ],
        },
        "policy": record.policy,
        "c2pa": {
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {"actions": [{
                        "action": "c2pa.created",
                        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                        "softwareAgent": {"name": record.model_id, "version": record.model_version},
                        "when": rfc3339(record.screened_at),
                    }]},
                },
                {
                    "label": "c2pa.training-mining",
                    "data": {"entries": {
                        "c2pa.ai_generative_training": {"use": "notAllowed"},
                        "c2pa.ai_inference": {"use": "notAllowed"},
                        "c2pa.ai_training": {"use": "notAllowed"},
                        "c2pa.data_mining": {"use": "notAllowed"},
                    }},
                },
            ],
        },
    }


def canonical(value: object) -> bytes:
    return rfc8785.dumps(value)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))
