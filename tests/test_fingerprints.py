"""The fingerprint pipeline on its own: decode, Chromaprint, FAISS candidates, verification."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import fingerprints
from fingerprints.index import AudioIndex, Candidate, windows
from fingerprints.verify import informative, verify
from tests.audio import DEMO_RATE, encode, synth_music, wav_bytes

RATE = fingerprints.SAMPLE_RATE


def printed(samples: np.ndarray, rate: int = DEMO_RATE, kind: str = "wav") -> np.ndarray:
    audio = fingerprints.decode(encode(samples, rate, kind), sample_rate=RATE, max_seconds=900)
    return fingerprints.fingerprint(audio).codes


@pytest.fixture(scope="module")
def works() -> dict[int, np.ndarray]:
    return {n: synth_music(seed=n, seconds=90.0) for n in (1, 2, 3, 4)}


@pytest.fixture(scope="module")
def matcher(works: dict[int, np.ndarray]) -> fingerprints.AudioMatcher:
    return fingerprints.AudioMatcher.build((n, printed(x)) for n, x in works.items())


@pytest.mark.parametrize("kind", ["wav", "wav24", "wavf32", "wavu8", "flac", "ogg", "opus", "mp3"])
def test_every_common_container_decodes_to_mono_at_the_requested_rate(kind: str) -> None:
    audio = fingerprints.decode(encode(synth_music(5, 12.0), DEMO_RATE, kind, channels=2), sample_rate=RATE,
                                max_seconds=60)
    assert audio.sample_rate == RATE
    assert audio.source_channels == 2
    assert audio.samples.ndim == 1
    assert abs(audio.duration - 12.0) < 0.1


@pytest.mark.parametrize("kind", ["wav", "wavu8", "wavf32", "flac", "mp3"])
def test_stereo_copy_with_one_channel_inverted_is_found(works, matcher, kind: str) -> None:
    """Inverting one channel sounds the same on speakers, but the channels' sum cancels to silence."""
    excerpt = works[3][int(40 * DEMO_RATE):int(50 * DEMO_RATE)]
    audio = fingerprints.decode(encode(excerpt, DEMO_RATE, kind, channels=2, inverted=True), sample_rate=RATE,
                                max_seconds=60)
    assert not fingerprints.is_silent(audio)
    assert [m.work_number for m in matcher.match(fingerprints.fingerprint(audio).codes)] == [3]


def test_the_downmix_keeps_the_stronger_of_sum_and_difference() -> None:
    import av

    from fingerprints.decode import _in_phase
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 4096)).astype(np.float32) * 0.1

    def frame(left: np.ndarray, right: np.ndarray) -> av.AudioFrame:
        f = av.AudioFrame.from_ndarray(np.stack([left, right]), format="fltp", layout="stereo")
        f.sample_rate = RATE
        return f

    for right in (x, 0.5 * y + 0.2 * x):  # in phase, weakly correlated
        block = frame(x, right)
        assert _in_phase(block) is block
    for right in (-x, 0.5 * y - 0.2 * x):  # inverted, weakly anti-correlated: the difference is the stronger
        assert np.allclose(_in_phase(frame(x, right)).to_ndarray()[1], -right)


@pytest.mark.parametrize("kind", ["ogg", "mp3"])
def test_decoded_pieces_are_passed_on_in_order_as_they_come(kind: str) -> None:
    pieces: list[np.ndarray] = []
    audio = fingerprints.decode(encode(synth_music(5, 12.0), DEMO_RATE, kind, channels=2), sample_rate=RATE,
                                max_seconds=60, on_samples=pieces.append)
    assert len(pieces) > 1
    assert np.array_equal(np.concatenate(pieces), audio.samples)


def test_whole_recording_is_fingerprinted_not_just_the_first_two_minutes() -> None:
    codes = printed(synth_music(7, 150.0))
    expected = (150.0 - fingerprints.chromaprint.CODE_SPAN_S) / fingerprints.FRAME_HOP_S + 1
    assert abs(len(codes) - expected) < 3


def test_fingerprint_round_trips_through_bytes() -> None:
    fp = fingerprints.AudioFingerprint(printed(synth_music(8, 10.0)))
    assert np.array_equal(fingerprints.AudioFingerprint.from_bytes(fp.to_bytes()).codes, fp.codes)


def test_constant_windows_are_not_indexed() -> None:
    codes = np.concatenate([np.full(40, 12345, dtype=np.uint32), np.arange(40, dtype=np.uint32)])
    _, starts = windows(codes, 1)
    assert starts.min() >= 40 - 2
    assert not informative(np.full(5, 7, dtype=np.uint32))[1:].any()


@pytest.mark.parametrize("kind", ["wav", "mp3", "ogg"])
def test_excerpt_is_found_with_its_spans(works, matcher, kind: str) -> None:
    excerpt = works[3][int(40 * DEMO_RATE):int(50 * DEMO_RATE)]
    found = matcher.match(printed(excerpt, kind=kind))
    assert [m.work_number for m in found] == [3]
    match = found[0]
    assert match.reference_start == pytest.approx(40.0, abs=0.3)
    assert match.query_start == pytest.approx(0.0, abs=0.3)
    assert match.query_end == pytest.approx(10.0, abs=0.6)
    assert match.reference_end - match.reference_start == pytest.approx(match.query_end - match.query_start)
    assert match.score > 0.9999
    assert match.bit_error_rate < 0.15


def test_excerpt_under_noise_and_gain_is_found(works, matcher) -> None:
    excerpt = works[2][int(10 * DEMO_RATE):int(20 * DEMO_RATE)]
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(excerpt)) * np.sqrt(np.mean(excerpt**2) / 10)  # 10 dB SNR
    found = matcher.match(printed(np.clip(0.3 * (excerpt + noise), -1, 1)))
    assert [m.work_number for m in found] == [2]


def test_two_quoted_fragments_are_two_matches(works, matcher) -> None:
    query = np.concatenate([
        synth_music(50, 8.0),
        works[1][int(5 * DEMO_RATE):int(17 * DEMO_RATE)],
        synth_music(51, 8.0),
        works[4][int(60 * DEMO_RATE):int(72 * DEMO_RATE)],
    ])
    found = sorted(matcher.match(printed(query)), key=lambda m: m.query_start)
    assert [m.work_number for m in found] == [1, 4]
    assert found[0].query_start == pytest.approx(8.0, abs=1.0)
    assert found[1].reference_start == pytest.approx(60.0, abs=1.0)


def test_audio_a_work_holds_twice_is_reported_at_both_places() -> None:
    """A work that repeats a passage (a loop, a reprise) holds a copy of it at each place: the match gives
    the strongest and lists the other as a repeat, not as a second match of the same query stretch."""
    passage = synth_music(60, 15.0)
    work = np.concatenate([passage, synth_music(61, 20.0), passage, synth_music(62, 10.0)])
    matcher = fingerprints.AudioMatcher.build([(9, printed(work))])
    found = matcher.match(printed(passage[int(2 * DEMO_RATE):int(12 * DEMO_RATE)]))
    assert [m.work_number for m in found] == [9]
    places = sorted([found[0].reference_start, *(start for start, _ in found[0].repeats)])
    assert places == [pytest.approx(2.0, abs=0.5), pytest.approx(37.0, abs=0.5)]


@pytest.mark.parametrize(
    "name,signal",
    [
        ("silence", np.zeros(15 * DEMO_RATE, dtype=np.float32)),
        ("pure tone", 0.5 * np.sin(2 * np.pi * 440 * np.arange(15 * DEMO_RATE) / DEMO_RATE).astype(np.float32)),
        ("white noise", (0.3 * np.random.default_rng(1).standard_normal(15 * DEMO_RATE)).astype(np.float32)),
        ("drum loop", None),
        ("unrelated music", synth_music(77, 30.0)),
    ],
)
def test_no_match_for_audio_that_copies_nothing(matcher, name: str, signal: np.ndarray | None) -> None:
    if signal is None:
        signal = _drum_loop(15.0)
    audio = fingerprints.decode(wav_bytes(signal, DEMO_RATE), sample_rate=RATE, max_seconds=60)
    assert matcher.match(fingerprints.fingerprint(audio).codes) == []


def test_silence_matches_nothing_even_when_the_catalog_holds_silence() -> None:
    quiet = np.zeros(20 * DEMO_RATE, dtype=np.float32)
    catalog = fingerprints.AudioMatcher.build([(1, printed(np.concatenate([quiet, synth_music(3, 20.0)])))])
    assert catalog.match(printed(np.zeros(12 * DEMO_RATE, dtype=np.float32) + 1e-4)) == []


def test_retired_reference_is_no_longer_found(works) -> None:
    m = fingerprints.AudioMatcher.build((n, printed(x)) for n, x in works.items() if n in (1, 2))
    query = printed(works[2][int(30 * DEMO_RATE):int(40 * DEMO_RATE)])
    assert [x.work_number for x in m.match(query)] == [2]
    m.remove(2)
    assert m.match(query) == []


def test_index_survives_save_and_load(tmp_path, works, matcher) -> None:
    matcher.index.save(tmp_path / "audio.faiss")
    loaded = AudioIndex.load(tmp_path / "audio.faiss")
    assert loaded.size == matcher.index.size
    query = printed(works[4][int(70 * DEMO_RATE):int(80 * DEMO_RATE)])
    assert loaded.candidates(query)[0].work_number == 4


def test_index_trains_more_lists_as_the_catalog_grows() -> None:
    rng = np.random.default_rng(3)
    refs = [(n, rng.integers(0, 2**32, 8000, dtype=np.uint64).astype(np.uint32)) for n in range(1, 13)]
    index = AudioIndex.build(refs)
    assert index.lists > 1
    assert index.size == sum(len(windows(c, 2)[1]) for _, c in refs)


def _drum_loop(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(4)
    out = np.zeros(int(seconds * DEMO_RATE), dtype=np.float32)
    t = np.arange(int(0.15 * DEMO_RATE)) / DEMO_RATE
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-t * 30)
    hat = rng.standard_normal(len(t)) * np.exp(-t * 80) * 0.3
    beat = int(0.25 * DEMO_RATE)
    for i, start in enumerate(range(0, len(out) - len(t), beat)):
        out[start:start + len(t)] += kick if i % 2 == 0 else hat
    return (0.8 * out / np.abs(out).max()).astype(np.float32)


def test_candidate_overlapping_the_reference_by_a_few_frames_is_verified_without_error() -> None:
    rng = np.random.default_rng(5)
    reference = rng.integers(0, 2**32, 200, dtype=np.uint64).astype(np.uint32)
    query = rng.integers(0, 2**32, 80, dtype=np.uint64).astype(np.uint32)
    for offset in (195, 197, 199, -75, -78):  # overlaps of 5, 3, 1 and 5, 2 frames, shorter than the smoothing
        assert verify(query, {1: reference}, [Candidate(1, offset, 1)]) == []


def test_agreement_over_a_few_cycling_codes_is_not_a_match_but_as_many_distinct_codes_are() -> None:
    # Two parts that cycle through the same 9 codes (an oom-pah accompaniment in one key) agree frame after
    # frame for 10 s; that is 9 observations, not 80. 80 distinct agreeing codes are a copy.
    rng = np.random.default_rng(11)
    cycle = rng.integers(0, 2**32, 9, dtype=np.uint64).astype(np.uint32)
    cycling = np.tile(cycle, 9)[:80]
    assert verify(cycling, {1: cycling.copy()}, [Candidate(1, 0, 1)]) == []
    distinct = rng.integers(0, 2**32, 80, dtype=np.uint64).astype(np.uint32)
    (match,) = verify(distinct, {1: distinct.copy()}, [Candidate(1, 0, 1)])
    assert match.work_number == 1 and match.bit_error_rate == 0.0


def test_search_leaves_the_callers_faiss_thread_count_alone(works, matcher) -> None:
    before = faiss.omp_get_max_threads()
    matcher.match(printed(works[1][int(20 * DEMO_RATE):int(30 * DEMO_RATE)]))
    assert faiss.omp_get_max_threads() == before
