"""Melody screening (fingerprints.melody): real music21 corpus tunes, real MIDI/MusicXML/ABC bytes, and
synthesised audio (harmonic tones over chords), end to end; no mocks."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile

music21 = pytest.importorskip("music21")

from fingerprints.errors import FingerprintError  # noqa: E402
from fingerprints.melody import (  # noqa: E402
    EXTRACTION_RATE,
    MAX_FALSE_MATCH,
    Extractor,
    ImplausibleMelody,
    InvalidMelody,
    Melody,
    MelodyMatcher,
    NoMelodyFound,
    extract_melody,
    load_symbolic,
)
from fingerprints.melody.matcher import prepare_queries, prepare_query  # noqa: E402
from fingerprints.melody.score import Fit, NullModel  # noqa: E402
from tests.midi import midi_bytes  # noqa: E402

CORPUS = os.path.join(os.path.dirname(music21.__file__), "corpus")


def _abc_tunes(rel: str) -> list[str]:
    with open(os.path.join(CORPUS, rel), encoding="latin-1") as handle:
        text = handle.read()
    return ["X:" + t for t in text.split("\nX:")[1:]]


@pytest.fixture(scope="module")
def oneills() -> list[tuple[int, Melody]]:
    """About 150 real O'Neill's tunes, parsed through the public loader."""
    out = []
    for rel in ("oneills1850/0001-0050.abc", "oneills1850/0051-0100.abc", "oneills1850/0101-0200.abc"):
        for tune in _abc_tunes(rel):
            try:
                out.append((len(out) + 1, load_symbolic(tune.encode("latin-1"), "tune.abc")))
            except InvalidMelody:
                continue
    assert len(out) > 120
    return out


@pytest.fixture(scope="module")
def matcher(oneills) -> MelodyMatcher:
    return MelodyMatcher.build(oneills[10:])


def _midi(tracks: list[tuple[str, int, int, list[tuple[int, float, float]]]], qpm: float = 100.0,
          one_track: bool = False) -> bytes:
    """Tracks of (name, channel, program, [(pitch, onset quarters, duration quarters)]), velocity 90."""
    return midi_bytes([{"name": name, "channel": ch, "program": program, "notes": [(p, on, d, 90) for p, on, d in notes]}
                       for name, ch, program, notes in tracks], qpm, one_track=one_track)


def _tone(pitch: float, seconds: float, rate: int, level: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f = 440.0 * 2 ** ((pitch - 69) / 12)
    x = sum(0.7 ** (h - 1) * np.sin(2 * np.pi * h * f * t) for h in range(1, 8) if h * f < rate / 2)
    env = np.minimum(1.0, t / 0.01) * np.exp(-1.5 * t) * np.minimum(1.0, (seconds - t) / 0.02)
    return (level * x * env).astype(np.float32)


def _render(m: Melody, rate: int, transpose: float, seconds_per_beat: float, chords: bool) -> np.ndarray:
    """A melody as harmonic tones, optionally over block chords (root, third, fifth of the bar's notes) at
    equal level (0 dB)."""
    end = float((m.onset[-1] + m.duration[-1]) * seconds_per_beat) + 0.5
    lead = np.zeros(int(end * rate), np.float32)
    for p, o, d in zip(m.pitch, m.onset, m.duration):
        a = int(o * seconds_per_beat * rate)
        x = _tone(p + transpose, max(0.05, d * seconds_per_beat * 0.95), rate)
        lead[a:a + len(x)] += x[: len(lead) - a]
    if not chords:
        return lead / np.abs(lead).max() * 0.8
    acc = np.zeros_like(lead)
    for bar in np.unique(m.bar):
        sel = m.bar == bar
        root = int(np.round(m.pitch[sel][0] + transpose)) % 12 + 48
        a = int(m.onset[sel][0] * seconds_per_beat * rate)
        b = int((m.onset[sel][-1] + m.duration[sel][-1]) * seconds_per_beat * rate)
        for p in (root - 12, root, root + 4, root + 7):
            x = _tone(p, (b - a) / rate, rate)
            acc[a:a + len(x)] += x[: len(acc) - a]
    acc *= np.sqrt(np.mean(lead ** 2) / max(np.mean(acc ** 2), 1e-12))
    mix = lead + acc
    return (mix / np.abs(mix).max() * 0.8).astype(np.float32)


# -- symbolic input --------------------------------------------------------------------------------------------

def test_abc_tune_loads_with_bars_and_source(oneills):
    _, m = oneills[0]
    assert len(m) > 40
    assert np.all(np.diff(m.start) > 0) and np.all(m.end > m.start)
    assert m.bar.min() >= 0 and m.bar.max() >= 8
    assert "single part" in m.source
    assert 50 <= m.pitch.min() and m.pitch.max() <= 100


def test_a_score_is_read_as_played_through_its_repeats_and_endings():
    # strains that end in :| alone repeat from their own start (music21 alone repeats each from the top,
    # nesting them into hundreds of copies); first and second endings are taken in turn
    abc = ("X:1\nT:Strains\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA:|\n"
           "GABc dedB|dedB dedB|c2ec B2dB|[1 A2F2 G4:|[2 A2F2 G2z2||\nfgaf gfed|c2ec B2dB|c2A2 A2BA:|\n")
    m = load_symbolic(abc.encode(), "strains.abc")
    played = [int(b) for k, b in enumerate(m.bar) if k == 0 or b != m.bar[k - 1]]
    assert played == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 8, 9, 10, 11, 9, 10, 11]
    assert "repeats played out" in m.source
    jig = "X:1\nT:Jig\nM:6/8\nL:1/8\nK:D\nd \\\n| AFD DFA | AFA B2d | def gfe :|\n|: f \\\n| afd fed | ecd ecA | fdd d2 :|\n"
    m = load_symbolic(jig.encode(), "jig.abc")  # music21 puts the first :| on the pickup bar after it
    assert [int(b) for k, b in enumerate(m.bar) if k == 0 or b != m.bar[k - 1]] == [0, 1, 2, 3] * 2 + [4, 5, 6, 7] * 2
    many = "X:1\nT:Many\nM:4/4\nL:1/8\nK:G\n" + "".join(f"GABc d{n}dB|c2ec B2dB:|\n" for n in range(1, 9))
    m = load_symbolic(many.encode(), "many.abc")
    assert len(m) == 2 * 8 * 13  # each of the 8 strains (13 notes) twice


def test_musicxml_chorale_takes_the_soprano():
    with open(os.path.join(CORPUS, "bach", "bwv66.6.mxl"), "rb") as handle:
        data = handle.read()
    m = load_symbolic(data, "bwv66.6.mxl")
    assert "part 1 of 4" in m.source and "Soprano" in m.source
    soprano = music21.corpus.parse("bach/bwv66.6").parts[0]
    first = [n.pitch.ps for n in soprano.flatten().notes][:8]
    assert list(m.pitch[:8]) == first


def test_midi_picks_the_lead_over_bass_and_drums():
    tune = [(72, 0, 1), (74, 1, 1), (76, 2, 1), (77, 3, 1), (79, 4, 2), (77, 6, 1), (76, 7, 1), (74, 8, 2)]
    bass = [(36, 0, 2), (43, 2, 2), (36, 4, 2), (43, 6, 2), (36, 8, 2)]
    drums = [(36, k * 0.5, 0.25) for k in range(20)]
    data = _midi([("Bass", 1, 33, bass), ("Lead", 0, 73, tune), ("Kit", 9, 0, drums)], qpm=90)
    m = load_symbolic(data, "song.mid")
    assert [int(p) for p in m.pitch] == [p for p, _, _ in tune]
    assert "'Lead'" in m.source and "part" in m.source
    assert m.start[1] == pytest.approx(60 / 90, abs=1e-3)


def test_a_line_held_over_its_next_note_keeps_every_note():
    # a piano line played with the pedal (each note held twice its value) was read as two voices: the notes
    # that step down under a held one were dropped as an inner voice, as were those music21 split at a barline
    tune = [(72, 0, 1), (71, 1, 1), (69, 2, 1), (67, 3, 1), (69, 4, 0.5), (71, 4.5, 0.5), (72, 5, 1), (67, 6, 1),
            (64, 7, 1), (65, 8, 2)]
    m = load_symbolic(_midi([("", 0, 0, [(p, on, 2 * d) for p, on, d in tune])]), "held.mid")
    assert [int(p) for p in m.pitch] == [p for p, _, _ in tune]
    chorale = [(72, 0, 2), (67, 0, 1), (69, 1, 1), (74, 2, 2), (71, 2, 2), (76, 4, 2), (72, 4, 1), (74, 5, 1),
               (77, 6, 2), (74, 6, 1), (72, 7, 1)]
    m = load_symbolic(_midi([("", 0, 0, chorale)]), "two-voices.mid")
    assert [int(p) for p in m.pitch] == [72, 74, 76, 77]  # where notes do start together, the top line is kept


def test_a_single_track_midi_file_is_read_a_part_per_channel():
    # format 0: every channel in one track; read as one part, its top line was the strings voiced above the tune
    tune = [(60, 0, 1), (62, 1, 1), (64, 2, 1), (65, 3, 1), (67, 4, 2), (65, 6, 1), (64, 7, 1), (62, 8, 2)]
    strings = [(p, 2 * k, 2) for k in range(5) for p in (72, 76, 79)]
    bass = [(36, 2 * k, 2) for k in range(5)]
    drums = [(36, k * 0.5, 0.25) for k in range(20)]
    data = _midi([("", 0, 73, tune), ("", 1, 48, strings), ("", 2, 33, bass), ("", 9, 0, drums)], qpm=90,
                 one_track=True)
    m = load_symbolic(data, "song.mid")
    assert [int(p) for p in m.pitch] == [p for p, _, _ in tune]
    assert "one track per MIDI channel" in m.source and "of 4" in m.source
    assert m.start[1] == pytest.approx(60 / 90, abs=1e-3)


@pytest.mark.parametrize("data, name, fragment", [
    (b"", "x.mid", "empty"),
    (b"hello, this is not music at all", "x.mid", "not a recognised score"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00", "x.mid", "truncated"),
    (b"<?xml version='1.0'?><score-partwise><part-list>", "x.musicxml", "cannot be read"),
])
def test_malformed_files_are_refused_with_a_reason(data, name, fragment):
    with pytest.raises(InvalidMelody, match=fragment):
        load_symbolic(data, name)


def test_percussion_only_and_absurd_files_are_refused():
    drums = _midi([("Kit", 9, 0, [(36, k * 0.5, 0.25) for k in range(16)])])
    with pytest.raises(InvalidMelody, match="percussion"):
        load_symbolic(drums, "drums.mid")
    with pytest.raises(ImplausibleMelody, match="tempo"):
        load_symbolic(b"X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=5000\nK:C\nCDEF|GABc|", "t.abc")
    with pytest.raises(ImplausibleMelody, match="pitch"):
        load_symbolic(_midi([("Lead", 0, 0, [(p, k, 1) for k, p in enumerate([2, 4, 5, 7, 9])])]), "low.mid")
    assert issubclass(InvalidMelody, FingerprintError) and issubclass(NoMelodyFound, FingerprintError)
    assert not issubclass(NoMelodyFound, InvalidMelody) and not issubclass(InvalidMelody, NoMelodyFound)


def test_serialisation_round_trip_is_compact_and_versioned(oneills):
    _, m = oneills[3]
    data = m.to_bytes()
    assert data[:4] == b"GMEL" and len(data) < 12 * len(m) + 200
    back = Melody.from_bytes(data)
    assert back.source == m.source
    for k in ("pitch", "onset", "duration", "start", "end", "bar"):
        assert np.allclose(getattr(back, k), getattr(m, k), atol=1e-4), k
    with pytest.raises(ValueError):
        Melody.from_bytes(b"NOPE" + data[4:])
    with pytest.raises(ValueError):
        Melody.from_bytes(data[:5] + b"\x09" + data[6:] if False else data[:4] + b"\x09" + data[5:])


# -- matching --------------------------------------------------------------------------------------------------

def _quote(host: Melody, source: Melody, bars: tuple[int, int], transpose: int, stretch: float,
           changed: int = 0) -> tuple[Melody, float]:
    """`host`'s first 8 notes, then bars [b0, b1] of `source` transposed, stretched in time and with
    `changed` notes moved a step, then `host`'s next 8 notes: a new song quoting a phrase."""
    sel = np.flatnonzero((source.bar >= bars[0]) & (source.bar <= bars[1]))
    sel = sel[: np.argmax(np.r_[np.diff(sel) > 1, True]) + 1]  # as first played: a repeat plays the bars again
    return _quote_notes(host, source, sel, transpose, stretch, changed)


def _quote_notes(host: Melody, source: Melody, sel: np.ndarray, transpose: int, stretch: float,
                 changed: int = 0) -> tuple[Melody, float]:
    from fingerprints.melody.notes import melody_from_arrays
    q_p = source.pitch[sel] + transpose
    for k in range(changed):
        q_p[3 + 5 * k] += 2
    q_on = (source.onset[sel] - source.onset[sel[0]]) * stretch
    q_d = source.duration[sel] * stretch
    h_on, h_d, h_p = host.onset[:8] - host.onset[0], host.duration[:8], host.pitch[:8]
    off = h_on[-1] + h_d[-1]
    tail_on = host.onset[8:16] - host.onset[8]
    end = off + q_on[-1] + q_d[-1]
    pitch = np.concatenate([h_p, q_p, host.pitch[8:16]])
    onset = np.concatenate([h_on, q_on + off, tail_on + end])
    dur = np.concatenate([h_d, q_d, host.duration[8:16]])
    return melody_from_arrays(pitch, onset, dur, seconds_per_beat=0.4), off * 0.4


def test_transposed_retimed_quotation_with_changed_notes_is_found_with_bars(oneills, matcher):
    host = oneills[0][1]  # not in the catalog
    work, source = oneills[40]
    query, q_at = _quote(host, source, (5, 8), transpose=-5, stretch=1.5, changed=2)
    found = matcher.match(query)
    assert found and found[0].work_number == work
    best = found[0]
    assert best.false_match_probability <= MAX_FALSE_MATCH and best.score == pytest.approx(1 - best.false_match_probability)
    assert best.transposition_semitones == pytest.approx(-5)
    assert 4 <= best.reference_first_bar <= 6 and 7 <= best.reference_last_bar <= 9
    # the quotation's 4th note is changed: a local alignment may start after it (three matched notes do not
    # pay for a wrong one), so the reported start is the quotation's or up to 4 notes (0.3 s each) later
    assert q_at - 0.5 <= best.query_start <= q_at + 4 * 0.3 + 0.05
    aligned = [p for p in best.pairs if p.aligned]
    assert len(aligned) >= 10
    assert all(p.reference_bar is not None and 4 <= p.reference_bar <= 9 for p in aligned)
    assert best.tempo_ratio > 0


def test_a_quotation_through_a_repeat_sign_is_one_stretch_with_the_written_bars(oneills, matcher):
    # O'Neill's tunes are mostly two repeated strains (AABB); a performance that quotes the end of a strain
    # and its repeat is one stretch of the tune as played, not two halves of the tune as written
    from fingerprints.melody.notes import melody_from_arrays
    work, tune = next((n, m) for n, m in oneills[10:] if "repeats played out" in m.source and len(m) > 80)
    back = int(np.flatnonzero(np.diff(tune.bar) < 0)[0]) + 1  # the first note played again after a repeat sign
    first_bar = int(tune.bar[0])
    sel = np.arange(back - 12, back + 12)
    query, _ = _quote_notes(oneills[0][1], tune, sel, transpose=3, stretch=1.2)
    best = next(m for m in matcher.match(query) if m.work_number == work)
    assert best.false_match_probability <= MAX_FALSE_MATCH
    assert best.matched_notes >= 20
    bars = [p.reference_bar for p in best.pairs if p.aligned]
    assert tune.bar[back - 1] in bars and first_bar in bars  # the last bar before the repeat sign and the first after
    written = melody_from_arrays(tune.pitch[:back], tune.onset[:back], tune.duration[:back], bar=tune.bar[:back],
                                 seconds_per_beat=0.5)
    halves = MelodyMatcher.build([(work, written)]).match(query, max_false_match=1.0)
    assert max((m.matched_notes for m in halves), default=0) <= 14  # as written, only one side of the sign aligns


def test_a_quotation_after_thousands_of_notes_is_found(oneills, matcher):
    # a whole track or a long MIDI file: the quotation's windows lie thousands of notes into the query, far from
    # where they lie in the reference
    from fingerprints.melody.notes import melody_from_arrays
    host = [m for _, m in oneills[:10]]  # not in the catalog
    pitch, onset, dur = [], [], []
    at = 0.0
    for transpose in (0, 3, -2):
        for m in host:
            pitch.append(m.pitch + transpose)
            onset.append(m.onset - m.onset[0] + at)
            dur.append(m.duration)
            at = onset[-1][-1] + dur[-1][-1] + 2.0
    work, source = oneills[40]
    sel = np.flatnonzero((source.bar >= 5) & (source.bar <= 8))
    pitch.append(source.pitch[sel] - 4)
    onset.append(source.onset[sel] - source.onset[sel[0]] + at)
    dur.append(source.duration[sel])
    query = melody_from_arrays(np.concatenate(pitch), np.concatenate(onset), np.concatenate(dur),
                               seconds_per_beat=0.25)
    assert len(prepare_query(query).vectors) > 2_500
    found = [m for m in matcher.match(query) if m.work_number == work]
    assert found and found[0].query_start >= at * 0.25 - 1.0
    assert found[0].transposition_semitones == pytest.approx(-4)


def test_a_pickup_before_every_note_is_read_both_as_ornament_and_as_note(oneills, matcher):
    """Each note of the quotation is preceded by a neighbour note taking 30% of its time: too long for an
    ornament at the lower thresholds, short enough at the highest, so the query is searched under both readings."""
    from fingerprints.melody.notes import melody_from_arrays
    work, source = oneills[40]
    sel = np.flatnonzero((source.bar >= 5) & (source.bar <= 8))
    ioi = np.diff(np.append(source.onset[sel], source.onset[sel[-1]] + source.duration[sel[-1]]))
    onset = np.repeat(source.onset[sel] - source.onset[sel[0]], 2) + np.tile([0.0, 0.3], len(sel)) * np.repeat(ioi, 2)
    pitch = np.repeat(source.pitch[sel] + 3, 2) + np.tile([2.0, 0.0], len(sel))
    duration = np.repeat(ioi, 2) * np.tile([0.3, 0.7], len(sel))
    query = melody_from_arrays(pitch, onset, duration, seconds_per_beat=0.5)
    readings = prepare_queries(query)
    assert len(readings) == 2
    assert len(readings[0].reduced) == len(query)  # every pickup kept as a note
    assert abs(len(readings[1].reduced) - len(sel)) <= 2  # (nearly) every pickup joined to its note
    found = matcher.match(query)
    assert found and found[0].work_number == work and found[0].transposition_semitones == pytest.approx(3)


def test_readings_share_one_search_of_their_common_windows(oneills, matcher):
    """A window two readings share is searched once; each reading still gets its own windows' neighbours."""
    from fingerprints.melody.matcher import NEIGHBOURS
    from fingerprints.melody.notes import melody_from_arrays
    _, source = oneills[40]
    sel = np.flatnonzero(source.bar <= 12)
    onset = source.onset[sel].copy()
    pitch = source.pitch[sel].copy()
    duration = source.duration[sel].copy()
    for k in range(0, len(sel) - 1, 6):  # a grace note before every sixth note: the readings differ there only
        onset[k] += 0.3 * duration[k]
        duration[k] *= 0.7
    grace = np.arange(0, len(sel) - 1, 6)
    order = np.argsort(np.concatenate([onset, source.onset[sel][grace]]), kind="stable")
    query = melody_from_arrays(np.concatenate([pitch, pitch[grace] + 2])[order],
                               np.concatenate([onset, source.onset[sel][grace]])[order],
                               np.concatenate([duration, 0.3 * source.duration[sel][grace]])[order],
                               seconds_per_beat=0.5)
    readings = prepare_queries(query)
    assert len(readings) >= 2
    shared = matcher.neighbours(readings)
    assert len(shared) == len(readings)
    for reading, (distances, ids) in zip(readings, shared):
        expected_distances, expected_ids = matcher.index.search(reading.vectors, NEIGHBOURS)
        assert np.array_equal(ids, expected_ids)
        assert np.allclose(distances, expected_distances)


@pytest.mark.parametrize("figure, main", [
    ([64, 65] * 4, 64),  # a trill from the main note: its auxiliary is the note above
    ([65, 64] * 4, 64),  # a trill from the auxiliary
    ([65, 64, 62, 64], 64),  # a turn
    ([62, 64], 64),  # an even slide into the main note
])
def test_an_ornament_figure_reduces_to_its_main_note(figure, main):
    """Quarter notes, then a figure of sixteenths in place of one longer note, then quarter notes again."""
    from fingerprints.melody.notes import melody_from_arrays
    from fingerprints.melody.represent import reduce
    step = 0.25
    before, after = [55, 57, 59, 60, 62, 60, 62], [67, 69, 71, 72, 71, 69, 67]
    onset = [float(k) for k in range(len(before))]
    onset += [len(before) + step * k for k in range(len(figure))]
    onset += [onset[-1] + step + k for k in range(len(after))]
    reduced = reduce(melody_from_arrays(before + figure + after, onset, np.diff(onset + [onset[-1] + 1.0])))
    assert list(reduced.pitch) == before + [main] + after


def test_unrelated_tunes_do_not_match_strongly(oneills, matcher):
    """Tunes outside the catalog never match with a tiny false-match probability. At the default threshold a
    few do: on the mixed folk benchmark ~1% of unrelated queries match something (docs/benchmarks.md), but
    reels from one book against ~140 others of the same book share more stock phrases than the mixed
    background the null was fitted on, so their probabilities run low (measured here: 1 of these 10 at or
    below MAX_FALSE_MATCH, 3 with the law fitted at 10,000 tunes scaled down; of 260 tunes of the book, some of
    them variants of catalog tunes, 17 against 58)."""
    found = [m for _, tune in oneills[:10] for m in matcher.match(tune.slice(0, min(len(tune), 60)))]
    assert len(found) <= 2
    assert all(m.false_match_probability > 1e-3 for m in found)


def test_the_null_holds_each_fit_at_its_catalog_size_and_interpolates_between():
    """A catalog of 20 tunes is not one of 10,000 scaled down: each size has its own law, and sizes between two
    fits get a probability between theirs."""
    small, large = Fit(2_000, 0.9, -4.5, 100), Fit(900_000, 0.4, -12.7, 100)
    null = NullModel((small, large))
    for fit in (small, large):
        alone = NullModel((fit,))
        assert null.false_match_probability(14.0, 60, fit.catalog_notes) == pytest.approx(
            alone.false_match_probability(14.0, 60, fit.catalog_notes))
    p = [null.false_match_probability(14.0, 60, n) for n in (500, 2_000, 40_000, 900_000, 9_000_000)]
    assert p[0] == pytest.approx(p[1])  # below the smallest fit: that fit's law, not scaled down
    lo, hi = sorted((p[1], p[3]))
    assert lo < p[2] < hi
    assert p[4] > p[3]  # beyond the largest fit the search space grows with the catalog
    for n in (500, 40_000, 9_000_000):
        s = null.score_for(0.01, 60, n)
        assert null.false_match_probability(s, 60, n) == pytest.approx(0.01, rel=1e-6)


def test_transcribed_queries_pay_less_for_gaps(oneills, matcher):
    """A transcription invents and drops notes by itself, so a melody extracted from audio is aligned with
    cheaper gaps (and its own null) than a notated one; the service says which it has."""
    from fingerprints.melody.notes import melody_from_arrays
    host = oneills[0][1]
    work, source = oneills[40]
    query, _ = _quote(host, source, (5, 8), transpose=2, stretch=1.0)
    at = len(query) // 2  # a spurious note, a beat long, in the middle of the quotation
    onset = np.concatenate([query.onset[:at], [query.onset[at]], query.onset[at:] + 1.0])
    spurious = melody_from_arrays(np.insert(query.pitch, at, query.pitch[at] + 5),
                                  onset, np.insert(query.duration, at, 1.0), seconds_per_beat=0.4)
    notated = [m for m in matcher.match(spurious, max_false_match=1.0, transcribed=False) if m.work_number == work]
    transcribed = [m for m in matcher.match(spurious, max_false_match=1.0, transcribed=True) if m.work_number == work]
    assert notated and transcribed
    assert transcribed[0].alignment_score > notated[0].alignment_score
    assert prepare_query(spurious).transcribed is False
    assert prepare_query(melody_from_arrays(spurious.pitch + 0.3, spurious.onset, spurious.duration,
                                            seconds_per_beat=0.4)).transcribed is True


def test_a_transcribed_note_read_at_a_subharmonic_costs_as_an_octave_error():
    """A transcription reads a note an octave, a twelfth, two octaves or two octaves and a third low when its
    harmonics gather the accompaniment's (docs/melody.md): in a transcribed query such a note costs what an
    octave error costs, while a notated query's wrong note costs the same whatever the interval."""
    from fingerprints.melody.align import DEFAULT_PARAMS, TRANSCRIBED_PARAMS, align
    reference = np.array([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65], dtype=np.float64)
    units, weights = np.ones(len(reference)), np.ones(len(reference))

    def score(semitones_low: float, params) -> float:
        query = reference.copy()
        query[5] -= semitones_low
        return align(query, units, reference, units, weights, params).score

    octave = score(12, TRANSCRIBED_PARAMS)
    assert score(19, TRANSCRIBED_PARAMS) == score(24, TRANSCRIBED_PARAMS) == score(28, TRANSCRIBED_PARAMS) == octave
    assert score(17, TRANSCRIBED_PARAMS) < octave
    assert score(19, DEFAULT_PARAMS) == score(17, DEFAULT_PARAMS) < score(12, DEFAULT_PARAMS)


def test_add_and_remove(oneills, matcher):
    host = oneills[1][1]
    work, source = oneills[62]  # bars 1-4: 19 notes
    query, _ = _quote(host, source, (1, 4), transpose=3, stretch=0.75)
    assert matcher.match(query)[0].work_number == work
    n = matcher.works
    matcher.remove(work)
    assert matcher.works == n - 1 and all(m.work_number != work for m in matcher.match(query))
    matcher.add(work, source)
    assert matcher.match(query)[0].work_number == work and matcher.works == n
    assert matcher.memory_bytes() > 0


def test_saved_matcher_reloads_identically_and_rebuilds_when_the_catalog_differs(oneills, matcher, tmp_path):
    path = tmp_path / "melody-index.npz"
    matcher.save(path)
    refs = [(n, matcher.reference(n).melody) for n in matcher.work_numbers()]
    loaded = MelodyMatcher.load(path, refs)
    host = oneills[2][1]
    work, source = oneills[50]
    query, _ = _quote(host, source, (3, 6), transpose=4, stretch=1.25, changed=1)
    a = [(m.work_number, m.alignment_score, m.reference_bars) for m in matcher.match(query)]
    assert a and a == [(m.work_number, m.alignment_score, m.reference_bars) for m in loaded.match(query)]
    fewer = MelodyMatcher.load(path, refs[1:])  # not what was saved: built afresh from what was given
    assert fewer.works == len(refs) - 1
    assert MelodyMatcher.load(tmp_path / "missing.npz", refs[:20]).works == 20


def test_match_converts_to_the_evidence_report(oneills, matcher):
    from takedown.report import MelodyEvidence, NotePair
    host = oneills[3][1]
    work, source = oneills[70]
    query, _ = _quote(host, source, (1, 6), transpose=-2, stretch=1.0)
    m = matcher.match(query)[0]
    evidence = MelodyEvidence(str(m.work_number), m.score, (m.query_start, m.query_end), m.reference_bars,
                              m.transposition_semitones, m.tempo_ratio,
                              tuple(NotePair(p.query_onset, round(p.query_pitch), p.reference_onset,
                                             round(p.reference_pitch), p.reference_bar) for p in m.pairs if p.aligned))
    assert len(evidence.pairs) >= 10
    assert np.mean([p.query_pitch - p.reference_pitch == -2 for p in evidence.pairs]) > 0.8
    assert {p.kind for p in m.pairs} <= {"match", "consolidated", "fragmented", "inserted", "deleted"}


# -- audio -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [11_025, 22_050])
def test_melody_over_chords_is_extracted_and_matched(oneills, matcher, rate):
    work, source = oneills[80]
    phrase = source.slice(0, int(np.searchsorted(source.bar, 9)))
    audio = _render(phrase, rate, transpose=2, seconds_per_beat=0.45, chords=True)
    m = extract_melody(audio, rate)
    assert len(m) >= 0.7 * len(phrase) and np.all(m.confidence >= 0) and m.bar.max() >= 2
    assert "audio" in m.source
    found = matcher.match(m)
    assert found and found[0].work_number == work
    assert found[0].transposition_semitones == pytest.approx(2, abs=0.5)


def test_a_quotation_in_a_quiet_passage_is_transcribed_and_found(oneills, matcher):
    """A quiet verse between loud ones: its melody is judged against its own passage, not the loud parts."""
    rate = EXTRACTION_RATE
    work, source = oneills[80]
    phrase = source.slice(0, int(np.searchsorted(source.bar, 9)))
    loud = [_render(m.slice(0, int(np.searchsorted(m.bar, 5))), rate, 0, 0.45, chords=True)
            for _, m in (oneills[5], oneills[6])]
    quiet = _render(phrase, rate, transpose=0, seconds_per_beat=0.45, chords=True) * np.float32(10 ** (-15 / 20))
    m = extract_melody(np.concatenate([loud[0], quiet, loud[1]]), rate)
    start, end = len(loud[0]) / rate, (len(loud[0]) + len(quiet)) / rate
    assert np.sum((m.start >= start) & (m.start < end)) >= 0.7 * len(phrase)
    found = matcher.match(m)
    assert found and found[0].work_number == work
    assert start - 1 <= found[0].query_start and found[0].query_end <= end + 1


def test_a_fast_tune_is_transcribed_and_found(oneills, matcher):
    """Quavers of 80 ms over chords (a reel's last ~0.1-0.13 s): no note is held, and none is longer than a
    93 ms analysis window (which transcribed 24 of these 37 notes and did not find the tune)."""
    rate = EXTRACTION_RATE
    work, source = oneills[80]
    phrase = source.slice(0, int(np.searchsorted(source.bar, 9)))
    m = extract_melody(_render(phrase, rate, transpose=-3, seconds_per_beat=0.16, chords=True), rate)
    assert len(m) >= 0.8 * len(phrase)
    found = matcher.match(m)
    assert found and found[0].work_number == work
    assert found[0].transposition_semitones == pytest.approx(-3, abs=0.5)


def _frames_at_pitch(audio: np.ndarray, pitches: np.ndarray, note_s: float, after: tuple[float, float]) -> float:
    """Share of the pitch track's frames `after` (seconds from each note's onset, the first note left out) that
    lie within half a semitone of the note played."""
    from fingerprints.melody.audio import pitch_track
    times, f0, _ = pitch_track(audio, EXTRACTION_RATE)
    note = np.floor(times / note_s).astype(int)
    since = times - note * note_s
    sel = (note >= 1) & (note < len(pitches)) & (since >= after[0]) & (since < after[1])
    return float(np.mean(np.abs(69 + 12 * np.log2(f0[sel] / 440.0) - pitches[note[sel]]) < 0.5))


def test_a_note_is_read_from_its_onset_not_after_the_release_before_it():
    """Legato notes with a 40 ms attack, each ringing on after the next begins (80 ms release): the new note is
    quieter than the old one's tail for a while, but it is the one rising. Without the contour's weight on
    rising pitches, 57% of the frames 20-40 ms into each note read it."""
    rate, note_s = EXTRACTION_RATE, 0.15
    rng = np.random.default_rng(1)
    pitches = np.clip(67 + np.cumsum(rng.choice([-5, -4, -3, -2, 2, 3, 4, 5], 40)), 62, 84)
    audio = np.zeros(int((len(pitches) * note_s + 1) * rate), np.float32)
    t = np.arange(int((note_s + 0.4) * rate)) / rate
    envelope = np.minimum(1.0, t / 0.04) * np.where(t < note_s, 1.0, np.exp(-(t - note_s) / 0.08))
    for k, p in enumerate(pitches):
        f = 440.0 * 2 ** ((p - 69) / 12)
        tone = sum(0.7 ** (h - 1) * np.sin(2 * np.pi * h * f * t) for h in range(1, 8) if h * f < rate / 2)
        a = int(k * note_s * rate)
        audio[a:a + len(t)] += (tone * envelope)[: len(audio) - a].astype(np.float32)
    assert _frames_at_pitch(audio, pitches, note_s, (0.02, 0.04)) >= 0.8
    assert _frames_at_pitch(audio, pitches, note_s, (0.04, note_s)) >= 0.98


def test_the_pitch_track_carries_the_notes_harmonic_corrections():
    """Below middle C the tone has a weak fundamental and mostly odd harmonics (a clarinet's low register), which a
    harmonic sum reads a twelfth up (42% of these frames); the notes are corrected, and so is the pitch track."""
    rate, note_s = EXTRACTION_RATE, 0.3
    pitches = np.array([62, 60, 59, 57, 59, 60, 62, 64, 62, 60, 59, 57, 55, 57, 59, 60, 62, 64, 65, 64, 62, 60, 59, 57])
    t = np.arange(int(note_s * rate)) / rate
    envelope = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (note_s - t) / 0.02)
    weak = {1: 0.15, 3: 1.0, 5: 0.7, 7: 0.4, 9: 0.25, 11: 0.15}
    tones = []
    for p in pitches:
        f = 440.0 * 2 ** ((p - 69) / 12)
        partials = weak if p < 60 else {h: 0.7 ** (h - 1) for h in range(1, 8)}
        tones.append(sum(a * np.sin(2 * np.pi * h * f * t) for h, a in partials.items() if h * f < rate / 2) * envelope)
    audio = np.concatenate(tones).astype(np.float32)
    assert np.array_equal(np.round(extract_melody(audio, rate).pitch), pitches)
    assert _frames_at_pitch(audio, pitches, note_s, (0.05, note_s - 0.05)) >= 0.98


def test_short_notes_that_share_no_tuning_are_not_a_melody():
    """Speech: short voiced syllables whose pitches fall anywhere between semitones. The same syllables on
    semitones (a fast tune) are a melody."""
    rate = EXTRACTION_RATE
    rng = np.random.default_rng(11)
    pitch = rng.uniform(52.0, 64.0, 90)
    seconds = rng.uniform(0.06, 0.11, len(pitch))

    def syllables(pitches: np.ndarray) -> np.ndarray:
        return np.concatenate([np.concatenate([_tone(p, d, rate), np.zeros(int(0.02 * rate), np.float32)])
                               for p, d in zip(pitches, seconds)])

    with pytest.raises(NoMelodyFound, match="tuning"):
        extract_melody(syllables(pitch), rate)
    assert len(extract_melody(syllables(np.round(pitch)), rate)) >= 0.8 * len(pitch)


def test_held_syllables_that_glide_are_not_a_melody():
    """Speech again: vowels held 0.2-0.3 s whose pitch falls or rises a semitone as they sound, at pitches off
    any tuning. Held at their pitch, the same syllables are a melody sung out of tune, with or without a
    vibrato (which swings around the pitch and does not move it)."""
    rate = EXTRACTION_RATE
    rng = np.random.default_rng(12)
    start = rng.uniform(52.0, 64.0, 30)
    seconds = rng.uniform(0.2, 0.3, len(start))
    glide = rng.choice([-1.0, 1.0], len(start))

    def syllables(move: float, vibrato_cents: float = 0.0) -> np.ndarray:
        parts = []
        for p, d, g in zip(start, seconds, glide):
            t = np.arange(int(d * rate)) / rate
            pitch = p + move * g * t / d + vibrato_cents / 100 * np.sin(2 * np.pi * 5.5 * t)
            phase = 2 * np.pi * np.cumsum(440.0 * 2 ** ((pitch - 69) / 12)) / rate
            x = sum(0.7 ** (h - 1) * np.sin(h * phase) for h in range(1, 8))
            env = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (d - t) / 0.02)
            parts += [(x * env).astype(np.float32), np.zeros(int(0.05 * rate), np.float32)]
        return np.concatenate(parts)

    with pytest.raises(NoMelodyFound, match="steady pitch"):
        extract_melody(syllables(1.0), rate)
    assert len(extract_melody(syllables(0.0), rate)) >= 0.8 * len(start)
    assert len(extract_melody(syllables(0.0, vibrato_cents=25.0), rate)) >= 0.8 * len(start)


@pytest.mark.parametrize("voice", ["en", "en-us", "de", "fr"])
def test_speech_is_not_a_melody(voice, tmp_path):
    """Speech synthesised by espeak-ng (scripts/test installs it): pitched, harmonic, syllables held a while,
    but on no common tuning."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/test installs it)")
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), "The guard must refuse spoken words. A voice reading "
                    "the news has pitch, but it glides from syllable to syllable and never holds a note the way a "
                    "melody does. Numbers, names and dates are read one after another."], check=True)
    x, rate = soundfile.read(wav, dtype="float32")
    with pytest.raises(NoMelodyFound, match="no melody"):
        extract_melody(x, rate)


def test_speech_of_another_synthesiser_is_not_a_melody(tmp_path):
    """flite's slt voice holds its vowels at gliding pitches, which passed as held notes before a held note had
    to keep its pitch (docs/melody.md, "Speech")."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (scripts/test installs it)")
    wav = tmp_path / "speech.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", "Please hold the line. Your call is important to us, and one of "
                    "our advisers will be with you shortly. You can also visit our website for answers to common "
                    "questions.", "-o", str(wav)], check=True)
    x, rate = soundfile.read(wav, dtype="float32")
    with pytest.raises(NoMelodyFound, match="steady pitch"):
        extract_melody(x, rate)


def test_melody_fed_in_pieces_is_the_melody_of_the_whole(oneills):
    _, source = oneills[80]
    audio = _render(source.slice(0, int(np.searchsorted(source.bar, 9))), EXTRACTION_RATE, transpose=0,
                    seconds_per_beat=0.45, chords=True)
    whole = extract_melody(audio, EXTRACTION_RATE)
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(len(audio), 40, replace=False))  # pieces of 1 to ~40,000 samples
    extractor = Extractor()
    for piece in np.split(audio, cuts):
        extractor.feed(piece)
    pieces = extractor.finish().melody
    for name in ("pitch", "onset", "duration", "start", "end", "bar", "confidence", "metric"):
        assert np.array_equal(getattr(pieces, name), getattr(whole, name)), name


def test_contour_fed_in_blocks_is_the_contour_of_the_whole():
    """The Viterbi forward pass runs block by block while a track is decoded: where the blocks end must not
    change the path, and the path follows the most salient line."""
    from fingerprints.melody.audio import Contour
    rng = np.random.default_rng(5)
    frames, bins = 5000, 200
    sal = rng.gamma(0.5, 1.0, (frames, bins))
    line = 60 + (np.arange(frames) // 400) % 7 * 5  # held notes, a leap (a jump) between them
    sal[np.arange(frames), line] += 6.0
    whole = Contour()
    whole.feed(sal)
    expected = whole.finish()
    assert np.mean(expected == line) > 0.95
    for cuts in ([2048, 4096], np.sort(rng.choice(frames, 30, replace=False)), [0, 1, 2]):
        contour = Contour()
        for block in np.split(sal, cuts):
            contour.feed(block)
        assert np.array_equal(contour.finish(), expected)


@pytest.mark.parametrize("kind", ["silence", "noise", "drums"])
def test_audio_without_melody_is_refused(kind):
    rate = 22_050
    rng = np.random.default_rng(0)
    n = rate * 6
    if kind == "silence":
        x = np.zeros(n, np.float32)
    elif kind == "noise":
        x = rng.normal(0, 0.3, n).astype(np.float32)
    else:
        x = np.zeros(n, np.float32)
        hit = (rng.normal(0, 1, 2000) * np.exp(-np.arange(2000) / 300)).astype(np.float32)
        kick = np.sin(2 * np.pi * 60 * np.arange(3000) / rate) * np.exp(-np.arange(3000) / 800)
        for k in range(0, n - 3000, rate // 4):
            x[k:k + 2000] += 0.5 * hit
            if (k // (rate // 4)) % 2 == 0:
                x[k:k + 3000] += kick.astype(np.float32)
    with pytest.raises(NoMelodyFound, match="no melody"):
        extract_melody(x, rate)
