"""Melody screening: which known works' tunes does a track quote, and where (issue 4).

score bytes --symbolic--> Melody <--audio-- PCM (harmonic salience, Viterbi contour, notes, beats)
Melody --represent--> ornament-reduced notes, transposition/tempo-invariant pitch windows, pattern rarity
windows --index (FAISS)--> candidate (work, offset, tempo, transposition) hypotheses
candidates --align (local Mongeau-Sankoff)--> aligned notes --score (calibrated null)--> MelodyMatch

Pure domain code: no storage, no transport. Where the benchmark rows are lost: docs/melody.md. Public API:
    load_symbolic(data, filename) -> Melody          MIDI, MusicXML (.xml/.musicxml/.mxl), ABC
    extract_melody(samples, sample_rate) -> Melody   predominant melody of (polyphonic) audio
    Extractor().feed(piece)... .finish().melody       the same, fed at EXTRACTION_RATE while decoding
    Melody.to_bytes() / Melody.from_bytes(data)
    MelodyMatcher.build(references) / add / remove / match(query) -> [MelodyMatch]
    MAX_FALSE_MATCH                                  default decision threshold on false_match_probability
    InvalidMelody, NoMelodyFound (both fingerprints.errors.FingerprintError)
"""

from __future__ import annotations

import numpy as np

from fingerprints.melody.errors import ImplausibleMelody, InvalidMelody, MelodyError, MelodyLimitExceeded, NoMelodyFound
from fingerprints.melody.matcher import MAX_FALSE_MATCH, MelodyMatch, MelodyMatcher, NotePair
from fingerprints.melody.notes import Melody

__all__ = ["Melody", "MelodyMatch", "MelodyMatcher", "NotePair", "MAX_FALSE_MATCH", "load_symbolic",
           "extract_melody", "MelodyError", "InvalidMelody", "ImplausibleMelody", "MelodyLimitExceeded",
           "NoMelodyFound", "Extractor", "EXTRACTION_RATE"]


def __getattr__(name: str):
    # the audio stage imports librosa (~1 s): only when audio is analysed
    if name in ("Extractor", "EXTRACTION_RATE"):
        from fingerprints.melody import audio

        return audio.Extractor if name == "Extractor" else audio.SAMPLE_RATE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_symbolic(data: bytes, filename: str = "") -> Melody:
    """The melody of a MIDI, MusicXML or ABC file (format sniffed from the bytes; the name is a hint).

    A multi-part file has one part chosen (named like a lead, else the highest mostly single-note part);
    `Melody.source` says which and why. Raises InvalidMelody (or its subclasses ImplausibleMelody,
    MelodyLimitExceeded) with an actionable message for anything unusable."""
    from fingerprints.melody.symbolic import load_score

    return load_score(bytes(data), filename=filename)


def extract_melody(samples: np.ndarray, sample_rate: int) -> Melody:
    """The predominant (lead) melody of mono PCM (float, -1..1) with beats and bars from librosa's
    tracker. Raises NoMelodyFound for audio without a melody (silence, drums, noise, speech)."""
    from fingerprints.melody.audio import extract

    return extract(np.asarray(samples, dtype=np.float32), int(sample_rate)).melody
