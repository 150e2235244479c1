"""Re-checking many stored tracks against one newly registered reference, as Content ID does.

A FAISS search per track would cost milliseconds; instead every track's
codes are looked up at once (vectorised: a presence table on the top bits,
then an exact binary search for the few that pass) among the reference's
codes, and
exact hits vote for an alignment. Everyday processing leaves roughly a
quarter of codes bit-exact, so a real reuse gathers many consistent votes
while unrelated music gathers almost none; only tracks with enough votes
are verified with the same alignment as screening.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fingerprints.index import Candidate
from fingerprints.verify import AudioMatch, informative, verify

MIN_VOTES = 4
_OFFSET_BIAS = 1 << 24
_PREFIX_BITS = 24
"""A 2^24-entry presence table on each code's top bits screens out almost every code before the exact lookup."""


def rescreen(reference: np.ndarray, tracks: Sequence[tuple[str, np.ndarray]], *, work_number: int = 0,
             min_votes: int = MIN_VOTES) -> list[tuple[str, AudioMatch]]:
    """Every (track id, match) where a stored track reuses `reference`."""
    keep = informative(reference)
    positions = np.flatnonzero(keep)
    values = reference[keep]
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_positions = values[order], positions[order]
    if not len(sorted_values) or not tracks:
        return []
    codes = np.concatenate([c for _, c in tracks])
    present = np.zeros(1 << _PREFIX_BITS, dtype=bool)
    present[sorted_values >> (32 - _PREFIX_BITS)] = True
    maybe = np.flatnonzero(present[codes >> (32 - _PREFIX_BITS)])
    slot = np.minimum(np.searchsorted(sorted_values, codes[maybe]), len(sorted_values) - 1)
    exact = sorted_values[slot] == codes[maybe]
    hit = maybe[exact]
    owner = np.repeat(np.arange(len(tracks)), [len(c) for _, c in tracks])[hit]
    starts = np.cumsum([0] + [len(c) for _, c in tracks[:-1]])
    frame = hit - starts[owner]
    offsets = sorted_positions[slot[exact]] - frame
    keys = owner.astype(np.int64) * (2 * _OFFSET_BIAS) + offsets + _OFFSET_BIAS
    unique, counts = np.unique(keys, return_counts=True)
    strong = counts >= min_votes
    found: list[tuple[str, AudioMatch]] = []
    for key, votes in zip(unique[strong].tolist(), counts[strong].tolist()):
        index, offset = divmod(key, 2 * _OFFSET_BIAS)
        track_id, track_codes = tracks[index]
        candidate = Candidate(work_number, offset - _OFFSET_BIAS, votes)
        for match in verify(track_codes, {work_number: reference}, [candidate]):
            found.append((track_id, match))
    return found
