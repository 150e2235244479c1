"""The note list every stage passes on: one monophonic melody, in beats and in seconds.

Beats are quarter notes for scores and tracked beats for audio; nothing
downstream assumes the two agree (tempo is searched), only that a beat is
roughly constant within a melody. Bars are the score's measure numbers,
or beat-tracker bars for audio, so evidence can name them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"GMEL"
"""First bytes of a serialised Melody (guard melody)."""
FORMAT_VERSION = 1
_DTYPES = {"pitch": "<f4", "onset": "<f4", "duration": "<f4", "start": "<f4", "end": "<f4", "bar": "<i4",
           "confidence": "<f2", "metric": "<f2"}

_ARRAYS = ("pitch", "onset", "duration", "start", "end", "bar", "confidence", "metric")


@dataclass(frozen=True)
class Melody:
    """One monophonic melody: notes in time order, none overlapping; the arrays share one length.

    Units: `start`/`end` are seconds from the beginning of the file or recording (`end - start` is the
    note's duration in seconds); `onset`/`duration` are the same in beats (quarter notes for scores,
    tracked beats for audio); `pitch` is a MIDI note number (float: audio gives fractions); `bar` the
    bar number (music21's measure numbers for scores, pickup = 0; beat-tracked bars for audio).
    """

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
    def onset_seconds(self) -> np.ndarray:
        return self.start

    @property
    def duration_seconds(self) -> np.ndarray:
        return self.end - self.start

    @property
    def seconds(self) -> float:
        return float(self.end[-1] - self.start[0]) if len(self) else 0.0

    def slice(self, lo: int, hi: int) -> "Melody":
        return Melody(*(getattr(self, k)[lo:hi] for k in _ARRAYS), source=self.source, meta=dict(self.meta))

    def to_bytes(self) -> bytes:
        """Compact, versioned serialisation to store beside the work, so the index is rebuilt from the
        database without re-parsing or re-extracting anything: MAGIC, a version byte, the note count and
        the source text's length, then zlib-compressed little-endian arrays (float32 times and pitches,
        int32 bars, float16 confidence and metric weight), about 10 bytes a note."""
        source = self.source.encode("utf-8")
        body = b"".join(np.ascontiguousarray(getattr(self, k), dtype=_DTYPES[k]).tobytes() for k in _ARRAYS)
        return MAGIC + struct.pack("<BII", FORMAT_VERSION, len(self), len(source)) + source + zlib.compress(body, 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Melody":
        """Inverse of to_bytes; ValueError for bytes that are not a serialised Melody of a known version."""
        if data[:4] != MAGIC or len(data) < 13:
            raise ValueError("not a serialised melody (bad magic)")
        version, n, ls = struct.unpack("<BII", data[4:13])
        if version != FORMAT_VERSION:
            raise ValueError(f"serialised melody version {version} is not supported (this code reads {FORMAT_VERSION})")
        source = data[13:13 + ls].decode("utf-8")
        try:
            body = zlib.decompress(data[13 + ls:])
        except zlib.error as exc:
            raise ValueError(f"corrupt serialised melody: {exc}") from None
        arrays, pos = [], 0
        for k in _ARRAYS:
            dt = np.dtype(_DTYPES[k])
            size = n * dt.itemsize
            if pos + size > len(body):
                raise ValueError("corrupt serialised melody: truncated arrays")
            a = np.frombuffer(body, dtype=dt, count=n, offset=pos)
            arrays.append(a.astype(np.int32 if k == "bar" else (np.float32 if k in ("confidence", "metric")
                                                                  else np.float64)))
            pos += size
        return cls(*arrays, source=source)


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
