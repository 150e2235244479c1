"""The note list every stage passes on: one monophonic melody, in beats and in seconds.

Beats are quarter notes for scores and tracked beats for audio; nothing
downstream assumes the two agree (tempo is searched), only that a beat is
roughly constant within a melody. Bars are the score's measure numbers,
or beat-tracker bars for audio, so evidence can name them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

_ARRAYS = ("pitch", "onset", "duration", "start", "end", "bar", "confidence", "metric")


@dataclass(frozen=True)
class Melody:
    """Notes in time order, none overlapping; arrays share one length."""

    pitch: np.ndarray       # float64 MIDI note number (fractional for audio)
    onset: np.ndarray       # float64 beats from the start
    duration: np.ndarray    # float64 beats (to the next onset at most)
    start: np.ndarray       # float64 seconds
    end: np.ndarray         # float64 seconds
    bar: np.ndarray         # int32 bar (measure) number
    confidence: np.ndarray  # float32 in [0, 1]; 1 for notated notes
    metric: np.ndarray      # float32 metric weight: 1 downbeat, 0.5 beat, 0.25 half/third beat, 0.125 finer
    source: str = ""
    """Where the notes came from, e.g. which part of a multi-part file was taken as the melody and why."""
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pitch)

    @property
    def seconds(self) -> float:
        return float(self.end[-1] - self.start[0]) if len(self) else 0.0

    def slice(self, lo: int, hi: int) -> "Melody":
        return Melody(*(getattr(self, k)[lo:hi] for k in _ARRAYS), source=self.source, meta=dict(self.meta))

    def to_bytes(self) -> bytes:
        """A self-contained serialisation (NumPy .npz) to store beside the work, so an index can be rebuilt
        from the database without re-parsing or re-extracting anything."""
        buf = io.BytesIO()
        np.savez(buf, **{k: getattr(self, k) for k in _ARRAYS}, source=np.array(self.source))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Melody":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(*(z[k] for k in _ARRAYS), source=str(z["source"]))


def melody_from_arrays(
    pitch, onset, duration, *, start=None, end=None, bar=None, confidence=None, metric=None, source: str = "",
    seconds_per_beat: float = 0.5,
) -> Melody:
    """Build a Melody from plain sequences; seconds default to a constant tempo (120 beats a minute)."""
    pitch = np.asarray(pitch, dtype=np.float64)
    onset = np.asarray(onset, dtype=np.float64)
    duration = np.asarray(duration, dtype=np.float64)
    n = len(pitch)
    start = onset * seconds_per_beat if start is None else np.asarray(start, dtype=np.float64)
    end = (onset + duration) * seconds_per_beat if end is None else np.asarray(end, dtype=np.float64)
    bar = np.zeros(n, dtype=np.int32) if bar is None else np.asarray(bar, dtype=np.int32)
    confidence = np.ones(n, dtype=np.float32) if confidence is None else np.asarray(confidence, dtype=np.float32)
    metric = np.full(n, 0.25, dtype=np.float32) if metric is None else np.asarray(metric, dtype=np.float32)
    return Melody(pitch, onset, duration, start, end, bar, confidence, metric, source)
