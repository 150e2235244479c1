"""Peak stage: spectrogram in, the fingerprint (a constellation of spectral peaks) out.

A peak is a local maximum over +-NEIGHBOUR_FRAMES x +-NEIGHBOUR_BINS that
stands CONTRAST_DB above the mean of that neighbourhood. Local maxima are
what survive re-encoding, EQ, noise and time/pitch processing (measured:
~80% of reference peaks reappear within 1.5 frames and 1 bin under
+-2 semitones or +-10% tempo, docs/landmarks.md); a neighbourhood this size keeps
~20 peaks a second, which is what the index's memory budget affords.

The fingerprint is the peak list itself: the index and the verification
are both derived from it, so it is what a database stores. A screened
recording also offers its maxima (`find_maxima`): every local maximum of
its spectrogram, where verification looks for a candidate's peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from fingerprints.landmarks.spectrum import BINS, FLOOR_DB, FRAME_S, log_spectrogram

NEIGHBOUR_FRAMES = 5
NEIGHBOUR_BINS = 8
CONTRAST_DB = 8.0
MIN_LEVEL_DB = FLOOR_DB + 20.0
"""A peak must stand 20 dB above the silence floor: near-silence yields nothing."""
RIDGE_FRAMES = 20
RIDGE_BINS = 1.0
"""A peak within a bin of an earlier one less than 0.46 s before it continues a held note: it says
nothing new, and keeping such peaks made slow sustained music (organ, choir) match other slow
sustained music (docs/landmarks.md, "ridges"). The price: a note re-struck within 0.46 s is dropped too
(keeping re-struck notes brought the false evidence back; docs/landmarks.md)."""
BIN_STEPS = 16
"""Peak positions are kept to 1/16 bin: parabolic interpolation is good to ~0.1 bin, and
differences between peaks are what the hashes quantise."""

MAXIMUM_FRAMES = 1
MAXIMUM_BINS = 2
MAXIMUM_CONTRAST_DB = 2.0
"""A query's maxima: local maxima over +-1 frame x +-2 bins standing 2 dB above that neighbourhood, with no
ridge rule (~130 a second). Under another recording at equal loudness only a quarter of a reference's peaks
stay the strongest of their large neighbourhood, but most still top their immediate one."""

_TIME_BITS = 20
_BIN_BITS = 12
_MAGIC = b"LMK1"


@dataclass(frozen=True)
class LandmarkFingerprint:
    """Spectral peaks sorted by (frame, bin); each packed as frame << 12 | bin * 16 in a uint32."""

    peaks: np.ndarray

    @property
    def frames(self) -> np.ndarray:
        return (self.peaks >> _BIN_BITS).astype(np.int64)

    @property
    def bins(self) -> np.ndarray:
        return (self.peaks & ((1 << _BIN_BITS) - 1)).astype(np.float64) / BIN_STEPS

    @property
    def duration(self) -> float:
        return float(self.frames[-1] + 1) * FRAME_S if len(self.peaks) else 0.0

    def to_bytes(self) -> bytes:
        return _MAGIC + self.peaks.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "LandmarkFingerprint":
        if data[:4] != _MAGIC:
            raise ValueError("not a landmark fingerprint (bad magic)")
        return cls(np.frombuffer(data, dtype="<u4", offset=4).astype(np.uint32))


@dataclass(frozen=True)
class LandmarkQuery:
    """A recording as the matcher screens it: its peaks, whose keys nominate candidates, and its maxima, on
    which verification counts a candidate's peaks (LandmarkMatcher.match)."""

    peaks: LandmarkFingerprint
    maxima: LandmarkFingerprint


def fingerprint(samples: np.ndarray) -> LandmarkFingerprint:
    """Peaks of mono float PCM at landmarks.spectrum.SAMPLE_RATE."""
    return find_peaks(log_spectrogram(samples))


def query(samples: np.ndarray) -> LandmarkQuery:
    """Peaks and maxima of mono float PCM at landmarks.spectrum.SAMPLE_RATE, for LandmarkMatcher.match."""
    spectrogram = log_spectrogram(samples)
    return LandmarkQuery(find_peaks(spectrogram), find_maxima(spectrogram))


def find_peaks(spectrogram: np.ndarray) -> LandmarkFingerprint:
    """Local maxima with enough contrast, at sub-bin precision.

    A maximum must also rise strictly above the previous frame, so a held
    tone (a plateau of equal values) yields one peak at its onset rather
    than a peak in every frame.
    """
    if spectrogram.shape[0] < 3:
        return LandmarkFingerprint(np.zeros(0, dtype=np.uint32))
    size = (2 * NEIGHBOUR_FRAMES + 1, 2 * NEIGHBOUR_BINS + 1)
    # The neighbourhood maximum is separable: the maximum across bins first, then, only where a point is
    # that maximum (a few percent of points), the maximum of it over the neighbouring frames.
    across = scipy.ndimage.maximum_filter1d(spectrogram, size[1], axis=1, mode="nearest")
    rising = np.ones_like(spectrogram, dtype=bool)
    rising[1:] = spectrogram[1:] > spectrogram[:-1]
    candidate = (spectrogram == across) & rising & (spectrogram >= MIN_LEVEL_DB)
    candidate[:, 0] = candidate[:, -1] = False
    frames, bins = np.nonzero(candidate)
    level = spectrogram[frames, bins]
    last = spectrogram.shape[0] - 1
    is_max = np.ones(len(frames), dtype=bool)
    for shift in range(-NEIGHBOUR_FRAMES, NEIGHBOUR_FRAMES + 1):
        if shift:
            is_max &= level >= across[np.clip(frames + shift, 0, last), bins]
    frames, bins = frames[is_max], bins[is_max]
    local_mean = scipy.ndimage.uniform_filter(spectrogram, size=size, mode="nearest")
    keep = spectrogram[frames, bins] - local_mean[frames, bins] >= CONTRAST_DB
    frames, bins = frames[keep], bins[keep]
    steps = _refined_steps(spectrogram, frames, bins)
    keep = _starts_ridge(frames, steps / BIN_STEPS)
    return _packed(frames[keep], steps[keep])


def find_maxima(spectrogram: np.ndarray) -> LandmarkFingerprint:
    """Every local maximum over +-MAXIMUM_FRAMES x +-MAXIMUM_BINS that stands MAXIMUM_CONTRAST_DB above that
    neighbourhood and MIN_LEVEL_DB above silence, at sub-bin precision: 6-14 times as many as the peaks, and
    85-98% of the peaks are among them (a minute of six benchmark recordings)."""
    if spectrogram.shape[0] < 3:
        return LandmarkFingerprint(np.zeros(0, dtype=np.uint32))
    size = (2 * MAXIMUM_FRAMES + 1, 2 * MAXIMUM_BINS + 1)
    top = scipy.ndimage.maximum_filter(spectrogram, size=size, mode="nearest")
    mean = scipy.ndimage.uniform_filter(spectrogram, size=size, mode="nearest")
    candidate = ((spectrogram == top) & (spectrogram >= MIN_LEVEL_DB)
                 & (spectrogram - mean >= MAXIMUM_CONTRAST_DB))
    candidate[:, 0] = candidate[:, -1] = False
    frames, bins = np.nonzero(candidate)
    return _packed(frames, _refined_steps(spectrogram, frames, bins))


def _refined_steps(spectrogram: np.ndarray, frames: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Sub-bin positions (in 1/BIN_STEPS bins) by parabolic interpolation across bins."""
    below, at, above = (spectrogram[frames, bins + d] for d in (-1, 0, 1))
    curvature = below - 2 * at + above
    offset = np.where(curvature < 0, 0.5 * (below - above) / np.where(curvature < 0, curvature, -1.0), 0.0)
    return np.clip(np.round((bins + np.clip(offset, -0.5, 0.5)) * BIN_STEPS), 0, BINS * BIN_STEPS - 1)


def _packed(frames: np.ndarray, steps: np.ndarray) -> LandmarkFingerprint:
    if len(frames) and frames.max() >= 1 << _TIME_BITS:
        raise ValueError("audio longer than a fingerprint can address")
    return LandmarkFingerprint(np.sort((frames.astype(np.uint32) << _BIN_BITS) | steps.astype(np.uint32)))


def _starts_ridge(frames: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """False for a peak that continues a ridge: another peak within RIDGE_BINS at most RIDGE_FRAMES earlier.

    `frames` must be ascending (np.nonzero's row-major order gives that).
    """
    keep = np.ones(len(frames), dtype=bool)
    for lag in range(1, len(frames)):
        gap = frames[lag:] - frames[:-lag]
        if gap.min() > RIDGE_FRAMES:
            break
        keep[lag:][(gap > 0) & (gap <= RIDGE_FRAMES) & (np.abs(bins[lag:] - bins[:-lag]) <= RIDGE_BINS)] = False
    return keep
