"""The audio catalog as the screening pipeline sees it: an index for candidates, raw codes for verification."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fingerprints.index import AudioIndex
from fingerprints.verify import AudioMatch, verify


class AudioMatcher:
    """Candidates from the FAISS index, verified against the references' full sub-fingerprints.

    Not thread-safe for writes; the caller serialises add/remove against search.
    """

    def __init__(self, index: AudioIndex, references: dict[int, np.ndarray]) -> None:
        self.index = index
        self._references = references

    @classmethod
    def build(cls, references: Iterable[tuple[int, np.ndarray]]) -> "AudioMatcher":
        refs = dict(references)
        return cls(AudioIndex.build(refs.items()), refs)

    @property
    def works(self) -> int:
        return len(self._references)

    def reference_bytes(self) -> int:
        return sum(codes.nbytes for codes in self._references.values())

    def add(self, work_number: int, codes: np.ndarray) -> None:
        if work_number in self._references:
            self.remove(work_number)
        self._references[work_number] = codes
        self.index.add(work_number, codes)

    def remove(self, work_number: int) -> None:
        if self._references.pop(work_number, None) is not None:
            self.index.remove(work_number)

    def rebuilt(self) -> "AudioMatcher":
        """A matcher with a freshly trained index over the same references."""
        return AudioMatcher.build(self._references.items())

    def match(self, codes: np.ndarray) -> list[AudioMatch]:
        return verify(codes, self._references, self.index.candidates(codes))
