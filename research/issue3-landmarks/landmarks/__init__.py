"""Pitch- and tempo-invariant audio identification: spectrum -> peaks -> constellation hashes -> inverted index
candidates -> alignment -> peak-level verification -> matches.

A second fingerprint beside Chromaprint (which fails under pitch shift, tempo and speed changes and mixing):
the same decoded 11,025 Hz PCM goes in; matches come out with the pitch shift and tempo ratio that
explain them and only the stretch of the query that matches. See REPORT.md for the design and figures.
"""

from landmarks.align import Hits, Transform
from landmarks.hashes import Constellations, query_constellations, reference_constellations
from landmarks.index import Candidate, LandmarkIndex
from landmarks.matcher import LandmarkMatch, LandmarkMatcher
from landmarks.peaks import Fingerprint, find_peaks, fingerprint
from landmarks.spectrum import FRAME_S, SAMPLE_RATE, log_spectrogram
from landmarks.verify import NullModel, Stretch

__all__ = [
    "FRAME_S",
    "SAMPLE_RATE",
    "Candidate",
    "Constellations",
    "Fingerprint",
    "Hits",
    "LandmarkIndex",
    "LandmarkMatch",
    "LandmarkMatcher",
    "NullModel",
    "Stretch",
    "Transform",
    "find_peaks",
    "fingerprint",
    "log_spectrogram",
    "query_constellations",
    "reference_constellations",
]
