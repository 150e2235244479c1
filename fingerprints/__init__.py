"""Audio identification: decode -> Chromaprint sub-fingerprints -> FAISS candidates -> verified matches.

Importable and testable without gRPC or storage; `guard` composes it.
"""

from fingerprints.chromaprint import FRAME_HOP_S, SAMPLE_RATE, AudioFingerprint, fingerprint
from fingerprints.decode import Audio, decode, is_silent
from fingerprints.errors import AudioLimitExceeded, FingerprintError, InvalidAudio
from fingerprints.index import AudioIndex, Candidate
from fingerprints.matcher import AudioMatcher
from fingerprints.verify import AudioMatch, NullModel

__all__ = [
    "FRAME_HOP_S",
    "SAMPLE_RATE",
    "Audio",
    "AudioFingerprint",
    "AudioIndex",
    "AudioLimitExceeded",
    "AudioMatch",
    "AudioMatcher",
    "Candidate",
    "FingerprintError",
    "InvalidAudio",
    "NullModel",
    "decode",
    "fingerprint",
    "is_silent",
]
