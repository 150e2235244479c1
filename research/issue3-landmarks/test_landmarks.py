"""Behaviour tests on real material (run: /work/main/.venv/bin/python -m pytest -q test_landmarks.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bench
from landmarks import Fingerprint, LandmarkMatcher, fingerprint

WORKS = {w.name: w for w in bench.works()}
NAMES = ["Bleostrada", "menu", "town"]


@pytest.fixture(scope="module")
def references() -> dict[int, Fingerprint]:
    return {WORKS[n].number: fingerprint(bench.decoded(bench.wav_bytes(bench.read(WORKS[n])))) for n in NAMES}


@pytest.fixture(scope="module")
def matcher(references) -> LandmarkMatcher:
    return LandmarkMatcher.build(references.items())


def query(name: str, start: float, seconds: float, effect: list[str]) -> Fingerprint:
    x = bench.read(WORKS[name], start, seconds)
    return fingerprint(bench.decoded(bench.wav_bytes(bench.sox(x, effect) if effect else x)))


def test_fingerprint_round_trips_through_bytes(references):
    for fp in references.values():
        assert np.array_equal(Fingerprint.from_bytes(fp.to_bytes()).peaks, fp.peaks)


@pytest.mark.parametrize("effect,pitch,tempo", [([], 0.0, 1.0), (["pitch", "200"], 2.0, 1.0),
                                                (["tempo", "0.9"], 0.0, 0.9), (["speed", "1.05"], 0.845, 1.05)])
def test_excerpt_is_found_with_its_transform(matcher, effect, pitch, tempo):
    matches = matcher.match(query("menu", 60.0, 10.0, effect))
    best = matches[0]
    assert best.work_number == WORKS["menu"].number
    assert abs(best.pitch_shift - pitch) < 0.1 and abs(best.tempo_ratio - tempo) < 0.01
    assert abs(best.reference_start - (60.0 + best.query_start * tempo)) < 1.0
    assert best.score > 0.9999


def test_each_stitched_fragment_is_its_own_match(matcher):
    parts = [bench.read(WORKS[n], s, 5.0) for n, s in (("town", 100.0), ("Bleostrada", 30.0), ("town", 20.0))]
    matches = matcher.match(fingerprint(bench.decoded(bench.wav_bytes(np.concatenate(parts)))))
    spans = sorted((round(m.query_start), m.work_number, round(m.reference_start)) for m in matches)
    assert [(w, r) for _, w, r in spans] == [(WORKS["town"].number, 100), (WORKS["Bleostrada"].number, 30),
                                              (WORKS["town"].number, 20)]


def test_silence_tone_and_noise_do_not_match(matcher):
    t = np.arange(10 * bench.RATE) / bench.RATE
    rng = np.random.default_rng(0)
    for audio in (np.zeros_like(t), 0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * rng.standard_normal(len(t))):
        assert matcher.match(fingerprint(bench.decoded(bench.wav_bytes(audio.astype(np.float32))))) == []


def test_remove_add_save_load(matcher, references, tmp_path: Path):
    number = WORKS["town"].number
    q = query("town", 80.0, 10.0, [])
    matcher.remove(number)
    assert all(m.work_number != number for m in matcher.match(q))
    matcher.add(number, references[number])
    assert matcher.match(q)[0].work_number == number
    matcher.save(tmp_path / "index.npz")
    again = LandmarkMatcher.load(tmp_path / "index.npz", references.items())
    assert again.index.size == matcher.index.size
    assert again.match(q)[0].work_number == number
