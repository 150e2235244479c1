"""Pitch- and tempo-invariant audio identification: spectrum -> peaks -> constellation hashes -> inverted-index
candidates -> alignment -> peak-level verification -> matches.

The second audio fingerprint beside Chromaprint, which is lost under pitch shift, tempo and speed changes
and mixing. The same decoded 11,025 Hz PCM goes in; matches come out with the pitch shift and tempo ratio
that explain them and only the stretch of the query that matches. Design and figures: docs/landmarks.md.
"""

from fingerprints.landmarks.index import LandmarkIndex
from fingerprints.landmarks.matcher import MAX_FALSE_MATCH, LandmarkMatch, LandmarkMatcher
from fingerprints.landmarks.peaks import LandmarkFingerprint, LandmarkQuery, find_maxima, find_peaks, fingerprint, query
from fingerprints.landmarks.spectrum import FRAME_S, SAMPLE_RATE, Spectrogram, log_spectrogram
from fingerprints.landmarks.verify import NullModel

__all__ = [
    "FRAME_S",
    "MAX_FALSE_MATCH",
    "SAMPLE_RATE",
    "LandmarkFingerprint",
    "LandmarkIndex",
    "LandmarkMatch",
    "LandmarkMatcher",
    "LandmarkQuery",
    "NullModel",
    "Spectrogram",
    "find_maxima",
    "find_peaks",
    "fingerprint",
    "log_spectrogram",
    "query",
]
