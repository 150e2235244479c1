"""Imported by the analysis workers' forkserver (guard.analysis_workers): importing it runs the extractor once,
to the end, on a short synthetic tune, so librosa's lazily imported parts are imported and every numba
kernel (ours and librosa's beat tracker) is compiled or loaded before any worker is forked. Every worker
then starts warm instead of spending ~3 s on its first track."""

import numpy as np

from fingerprints import melody

_RATE = 11_025


def _tune() -> np.ndarray:
    """Sixteen quarter notes up and down a scale, three harmonics each."""
    steps = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2, 0, 0]
    t = np.arange(int(0.4 * _RATE)) / _RATE
    envelope = np.minimum(1.0, 20 * t) * np.exp(-2 * t)
    notes = []
    for s in steps:
        f = 440.0 * 2 ** (s / 12)
        notes.append(envelope * sum(np.sin(2 * np.pi * h * f * t) / h for h in (1, 2, 3)))
    return (0.3 * np.concatenate(notes)).astype(np.float32)


melody.extract_melody(_tune(), _RATE)
