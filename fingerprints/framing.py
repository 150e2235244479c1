"""Framing for analyses fed while a track is decoding: samples in, blocks of whole frames out as soon as
every sample a block covers has arrived.

Blocks start at multiples of the block size whatever the pieces, and each
covers exactly the samples one pass over the whole signal would give its
frames, so a block-by-block analysis is identical to the whole-signal one.
"""

from __future__ import annotations

import numpy as np


class Blocks:
    """Frames of `frame` samples every `hop`, over the signal with `pad` zeros either side (centred
    frames), handed out `block_frames` at a time as the (padded) samples those frames cover."""

    def __init__(self, frame: int, hop: int, block_frames: int, pad: int = 0) -> None:
        self._frame, self._hop, self._block, self._pad = frame, hop, block_frames, pad
        self.samples = 0
        """Samples fed so far (padding not counted)."""
        self._x = np.zeros(pad, np.float32)
        """The padded signal from padded sample `_x_start` on: what the next block needs."""
        self._x_start = 0
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._next = 0
        """First frame of the next block."""

    @property
    def frames(self) -> int:
        """Frames in the signal fed so far, once it is finished."""
        return max(0, 1 + (self.samples + 2 * self._pad - self._frame) // self._hop)

    def feed(self, samples: np.ndarray) -> list[np.ndarray]:
        """The blocks these samples complete."""
        self.samples += len(samples)
        self._pending.append(samples)
        self._pending_n += len(samples)
        if self._x_start + len(self._x) + self._pending_n < self._needs(self._next + self._block):
            return []
        self._absorb()
        ready = []
        while self._x_start + len(self._x) >= self._needs(self._next + self._block):
            ready.append(self._take(self._next + self._block))
        return ready

    def finish(self) -> list[np.ndarray]:
        """The rest of the blocks, the last one short, once every sample has been fed."""
        self._pending.append(np.zeros(self._pad, np.float32))
        self._absorb()
        count = self.frames
        ready = []
        while self._next < count:
            ready.append(self._take(min(count, self._next + self._block)))
        return ready

    def _needs(self, f_hi: int) -> int:
        """Padded samples that frames up to f_hi (exclusive) cover."""
        return (f_hi - 1) * self._hop + self._frame

    def _absorb(self) -> None:
        self._x = np.concatenate([self._x, *self._pending])
        self._pending, self._pending_n = [], 0

    def _take(self, f_hi: int) -> np.ndarray:
        segment = self._x[self._next * self._hop - self._x_start:self._needs(f_hi) - self._x_start]
        self._next = f_hi
        drop = f_hi * self._hop - self._x_start  # the next block's first frame starts here
        self._x, self._x_start = self._x[drop:], self._x_start + drop
        return segment


def frames_of(segment: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """The frames a block's samples hold, as a read-only strided view (frames x frame)."""
    count = 1 + (len(segment) - frame) // hop
    return np.lib.stride_tricks.as_strided(segment, (count, frame), (segment.strides[0] * hop, segment.strides[0]),
                                           writeable=False)
