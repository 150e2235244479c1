"""Chromaprint stage: PCM in, the raw 32-bit sub-fingerprints of the whole recording out.

Chromaprint's pipeline (FFT -> chroma -> 16 filters -> 2-bit quantisers)
runs in process through pyacoustid's binding of the system libchromaprint.
We keep every raw sub-fingerprint rather than the compressed string (which
fpcalc and AcoustID cut at 120 s) because excerpts are located by aligning
raw codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import chromaprint
import numpy as np

from fingerprints.decode import Audio

SAMPLE_RATE = 11_025
"""Chromaprint's internal rate; decoding straight to it skips its resampler."""

FRAME_HOP_S = 4096 / 3 / SAMPLE_RATE
"""Seconds between consecutive sub-fingerprints (frame 4096, overlap 2/3): ~0.1238 s."""

CODE_SPAN_S = 2.78
"""Audio seconds one code summarises (frame plus Chromaprint's chroma filters), measured: an N-second
clip yields about (N - CODE_SPAN_S) / FRAME_HOP_S + 1 codes."""

_ALGORITHM = chromaprint.Fingerprinter.ALGORITHM_DEFAULT


@dataclass(frozen=True)
class AudioFingerprint:
    """Raw sub-fingerprints; code i covers the audio from about i * FRAME_HOP_S."""

    codes: np.ndarray  # uint32

    @property
    def duration(self) -> float:
        return len(self.codes) * FRAME_HOP_S

    def to_bytes(self) -> bytes:
        return self.codes.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "AudioFingerprint":
        return cls(np.frombuffer(data, dtype="<u4").astype(np.uint32))


def fingerprint(audio: Audio) -> AudioFingerprint:
    if audio.sample_rate != SAMPLE_RATE:
        raise ValueError(f"chromaprint expects {SAMPLE_RATE} Hz audio, got {audio.sample_rate}")
    pcm = np.clip(audio.samples * 32767.0, -32768, 32767).astype("<i2")
    printer = chromaprint.Fingerprinter(_ALGORITHM)
    printer.start(SAMPLE_RATE, 1)
    printer.feed(pcm.tobytes())
    encoded = printer.finish()
    if not encoded:
        return AudioFingerprint(np.zeros(0, dtype=np.uint32))
    raw, _ = chromaprint.decode_fingerprint(encoded)
    return AudioFingerprint(np.asarray(raw, dtype=np.int64).astype(np.uint32))
