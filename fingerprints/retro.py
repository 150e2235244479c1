"""Re-checking many stored tracks against one newly registered reference, as Content ID does.

A FAISS search per track would cost milliseconds; instead every track's
codes are looked up at once (vectorised) among the reference's codes, and
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
    owner = np.repeat(np.arange(len(tracks)), [len(c) for _, c in tracks])
    frame = np.concatenate([np.arange(len(c)) for _, c in tracks])
    slot = np.minimum(np.searchsorted(sorted_values, codes), len(sorted_values) - 1)
    hit = sorted_values[slot] == codes
    offsets = sorted_positions[slot[hit]] - frame[hit]
    keys = owner[hit].astype(np.int64) * (2 * _OFFSET_BIAS) + offsets + _OFFSET_BIAS
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
