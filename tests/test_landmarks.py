"""The landmark fingerprint on its own: copies that were re-pitched, re-timed, sped up, mixed or stitched."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

import fingerprints
from fingerprints import landmarks
from fingerprints.landmarks.align import Transform
from fingerprints.landmarks.verify import Landings, refined, stretches
from tests.audio import DEMO_RATE, encode, synth_music

RATE = landmarks.SAMPLE_RATE


def decoded(samples: np.ndarray, kind: str = "wav") -> np.ndarray:
    return fingerprints.decode(encode(samples, DEMO_RATE, kind), sample_rate=RATE, max_seconds=900).samples


def peaks(samples: np.ndarray, kind: str = "wav") -> landmarks.LandmarkFingerprint:
    return landmarks.fingerprint(decoded(samples, kind))


def query(samples: np.ndarray, kind: str = "wav") -> landmarks.LandmarkQuery:
    return landmarks.query(decoded(samples, kind))


def excerpt(work: np.ndarray, start: float, seconds: float) -> np.ndarray:
    return work[int(start * DEMO_RATE):int((start + seconds) * DEMO_RATE)]


@pytest.fixture(scope="module")
def works() -> dict[int, np.ndarray]:
    return {n: synth_music(seed=10 + n, seconds=90.0) for n in (1, 2, 3)}


@pytest.fixture(scope="module")
def matcher(works: dict[int, np.ndarray]) -> landmarks.LandmarkMatcher:
    return landmarks.LandmarkMatcher.build((n, peaks(x)) for n, x in works.items())


def test_fingerprint_round_trips_through_bytes(works) -> None:
    printed = peaks(works[1])
    assert np.array_equal(landmarks.LandmarkFingerprint.from_bytes(printed.to_bytes()).peaks, printed.peaks)
    with pytest.raises(ValueError, match="magic"):
        landmarks.LandmarkFingerprint.from_bytes(b"XXXX" + printed.to_bytes()[4:])


@pytest.mark.parametrize("seconds", [0.1, 0.19, 12.0, 40.0])
def test_spectrogram_fed_in_pieces_is_the_spectrogram_of_the_whole(works, seconds: float) -> None:
    samples = fingerprints.decode(encode(works[2][: int(seconds * DEMO_RATE)], DEMO_RATE, "wav"), sample_rate=RATE,
                                  max_seconds=60).samples
    streamed = landmarks.Spectrogram()
    cuts = np.sort(np.random.default_rng(5).choice(len(samples), min(len(samples), 50), replace=False))
    for piece in np.split(samples, cuts):
        streamed.feed(piece)
    whole = landmarks.log_spectrogram(samples)
    assert np.array_equal(streamed.finish(), whole)
    assert len(whole) == max(0, 1 + (len(samples) - 2048) // 256)


def _pitch(x: np.ndarray, semitones: float) -> np.ndarray:
    return librosa.effects.pitch_shift(x, sr=DEMO_RATE, n_steps=semitones)


def _tempo(x: np.ndarray, ratio: float) -> np.ndarray:
    return librosa.effects.time_stretch(x, rate=ratio)


def _speed(x: np.ndarray, ratio: float) -> np.ndarray:
    """Played faster like a tape: pitch and tempo together."""
    return librosa.resample(x, orig_sr=DEMO_RATE * ratio, target_sr=DEMO_RATE)


@pytest.mark.parametrize("change,pitch,tempo", [
    (lambda x: x, 0.0, 1.0),
    (lambda x: _pitch(x, 2.0), 2.0, 1.0),
    (lambda x: _pitch(x, -1.0), -1.0, 1.0),
    (lambda x: _tempo(x, 1.10), 0.0, 1.10),
    (lambda x: _tempo(x, 0.95), 0.0, 0.95),
    (lambda x: _speed(x, 1.05), 12 * np.log2(1.05), 1.05),
    (lambda x: _speed(x, 0.7), 12 * np.log2(0.7), 0.7),
    (lambda x: _tempo(x, 1.4), 0.0, 1.4),
], ids=["clean", "pitch+2", "pitch-1", "tempo+10%", "tempo-5%", "speed+5%", "slowed-30%", "sped-up-tempo+40%"])
def test_transformed_excerpt_is_found_with_its_transform(works, matcher, change, pitch: float, tempo: float) -> None:
    found = matcher.match(query(change(excerpt(works[2], 40.0, 10.0)), kind="mp3"))
    assert found, "the copy was not found"
    best = found[0]
    assert best.work_number == 2
    assert abs(best.pitch_shift - pitch) < 0.15 and abs(best.tempo_ratio - tempo) < 0.015
    assert abs(best.reference_start - (40.0 + best.query_start * tempo)) < 0.5
    assert best.false_match_probability <= landmarks.MAX_FALSE_MATCH
    assert {m.work_number for m in found} == {2}


@pytest.mark.parametrize("level_db", [-6.0, 0.0])
def test_copy_mixed_under_other_music_is_found(works, matcher, level_db: float) -> None:
    copy = excerpt(works[3], 20.0, 10.0)
    other = synth_music(seed=99, seconds=10.0)[:len(copy)]
    other *= np.sqrt(np.mean(copy ** 2) / np.mean(other ** 2)) * 10 ** (level_db / 20)
    found = matcher.match(query(0.5 * (copy + other)))
    assert [m.work_number for m in found][:1] == [3]


def _points(frames: np.ndarray, bins: np.ndarray) -> landmarks.LandmarkFingerprint:
    packed = (frames.astype(np.uint32) << 12) | np.round(bins * 16).astype(np.uint32)
    return landmarks.LandmarkFingerprint(np.sort(packed))


def test_a_coarse_transform_is_refined_to_the_one_the_peaks_agree_on() -> None:
    rng = np.random.default_rng(4)
    ref_frames = np.sort(rng.integers(0, 2000, 400))
    ref_bins = rng.uniform(10, 150, 400)
    reference = _points(ref_frames, ref_bins)
    # the query plays reference frames 600..1030 at 5% faster, 3 bins (1 semitone) higher, from its frame 0
    inside = (ref_frames >= 600) & (ref_frames <= 1030)
    query_maxima = _points(np.round((ref_frames[inside] - 600) / 1.05), ref_bins[inside] + 3)
    landings = Landings.of(query_maxima)
    true = Transform(3.0, 1.05, 600.0, 0, 410, 3)
    coarse = Transform(3.0, 1.075, 600.0 + 0.025 * -205, 0, 410, 3)  # 2.5% too fast, right in the middle
    back = coarse.inverse().inverse()
    assert (back.pitch_bins, back.tempo, back.offset) == pytest.approx((coarse.pitch_bins, coarse.tempo, coarse.offset))
    assert abs(back.first_frame - coarse.first_frame) <= 1 and abs(back.last_frame - coarse.last_frame) <= 1
    better = refined(reference, landings, coarse)
    assert better.tempo == pytest.approx(true.tempo, abs=0.003)
    assert better.pitch_bins == coarse.pitch_bins
    [found] = stretches(reference, landings, better.inverse(), "maxima")
    assert found.landed >= 0.95 * inside.sum()
    assert max(s.landed for s in stretches(reference, landings, coarse.inverse(), "maxima")) < 0.7 * inside.sum()


def test_each_stitched_fragment_is_its_own_match(works, matcher) -> None:
    parts = [excerpt(works[1], 60.0, 6.0), _pitch(excerpt(works[3], 10.0, 6.0), 1.0), excerpt(works[1], 15.0, 6.0)]
    found = sorted(matcher.match(query(np.concatenate(parts))), key=lambda m: m.query_start)
    assert [(m.work_number, round(m.pitch_shift)) for m in found] == [(1, 0), (3, 1), (1, 0)]
    for match, placed_at, source_start in zip(found, (0.0, 6.0, 12.0), (60.0, 10.0, 15.0)):
        assert placed_at - 0.5 < match.query_start and match.query_end < placed_at + 6.5
        assert abs(match.reference_start - (source_start + match.query_start - placed_at)) < 0.5


def test_short_quotation_inside_a_long_track_is_found_and_localised(works, matcher) -> None:
    bed = synth_music(seed=77, seconds=60.0)
    at = 33 * DEMO_RATE
    quote = excerpt(works[2], 70.0, 5.0)
    bed[at:at + len(quote)] = quote
    found = matcher.match(query(bed))
    assert len(found) == 1 and found[0].work_number == 2
    assert abs(found[0].query_start - 33.0) < 1.0 and abs(found[0].query_end - 38.0) < 1.0


def _drums(seconds: float, bpm: float) -> np.ndarray:
    out = np.zeros(int(seconds * DEMO_RATE), dtype=np.float32)
    rng = np.random.default_rng(3)
    hit = (rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)).astype(np.float32)
    for beat in np.arange(0, seconds, 60 / bpm):
        a = int(beat * DEMO_RATE)
        out[a:a + len(hit)] += hit[:len(out) - a]
    return 0.5 * out / np.abs(out).max()


@pytest.mark.parametrize("name", ["silence", "tone", "chord", "noise", "drums", "unrelated music"])
def test_audio_that_copies_nothing_matches_nothing(matcher, name: str) -> None:
    t = np.arange(20 * DEMO_RATE) / DEMO_RATE
    signal = {
        "silence": np.zeros_like(t),
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "chord": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
        "noise": 0.3 * np.random.default_rng(1).standard_normal(len(t)),
        "drums": _drums(20.0, 120.0),
        "unrelated music": synth_music(seed=1234, seconds=20.0),
    }[name]
    assert matcher.match(query(np.asarray(signal, dtype=np.float32))) == []


def test_removed_work_is_not_found_and_index_survives_save_and_load(works, tmp_path: Path) -> None:
    references = {n: peaks(x) for n, x in works.items()}
    matcher = landmarks.LandmarkMatcher.build(references.items())
    copy = query(excerpt(works[1], 30.0, 10.0))
    matcher.remove(1)
    assert matcher.match(copy) == []
    matcher.add(1, references[1])
    matcher.save(tmp_path / "landmarks.npz")
    loaded = landmarks.LandmarkMatcher.load(tmp_path / "landmarks.npz", references.items())
    assert loaded.index.size == matcher.index.size
    assert [m.work_number for m in loaded.match(copy)] == [1]
