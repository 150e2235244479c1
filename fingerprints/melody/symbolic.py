"""Symbolic stage: MIDI, MusicXML or ABC bytes in, the melody as a Melody out (through music21).

A multi-part file has one melody part chosen: percussion is never a
candidate; a part named like a lead (melody, voice, flute, violin...) wins,
names like bass/drums/chords/pad lose; otherwise the part that is mostly one
note at a time and highest wins (folk and popular melodies sit above their
accompaniment). Chords inside the chosen part are reduced to their top
note (skyline). The melody is the score as played: repeats and first and
second endings followed, measures keeping their written numbers.
`Melody.source` says which part was taken and why, and whether repeats were
played out.

Everything that makes a file unusable is refused with a message saying
what is wrong: unreadable bytes (InvalidMelody), absurd tempo or pitches
(ImplausibleMelody), no pitched notes at all (InvalidMelody), too large or
too long (MelodyLimitExceeded).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import warnings

import numpy as np

from fingerprints.melody.errors import ImplausibleMelody, InvalidMelody, MelodyLimitExceeded
from fingerprints.melody.notes import Melody

MAX_BYTES = 8 << 20
MAX_NOTES = 20_000
MAX_SECONDS = 900.0
MIN_NOTES = 4
MIN_QPM, MAX_QPM = 10.0, 1000.0
"""Quarter notes a minute; outside this no performance is meant (a corrupt tempo event, usually)."""
MIN_PITCH, MAX_PITCH = 12, 120
"""C0..C9: a melody note outside is a corrupt file, not music."""
DEFAULT_QPM = 120.0
"""music21's (and MIDI's) tempo when a file states none."""

MAX_PLAYED_RATIO = 4.0
"""Repeats at most quadruple a tune's measures; a score marked to play more (a passage repeated many times) is left
as written."""
ONE_LINE_SHARE = 0.05
"""A part whose notes almost never start together (chords, or two at one onset) is one line, played legato or
with the pedal held: a note that starts while a higher one still sounds is its next note, not an inner voice."""

FORMATS = ("midi", "musicxml", "abc")
_LEAD_NAMES = re.compile(r"melod|lead|voice|vocal|sing|sopran|solo|flute|fife|piccolo|whistle|recorder|violin|fiddle|"
                         r"oboe|clarinet|trumpet|sax|pipe|accordion|right", re.I)
_BACKING_NAMES = re.compile(r"bass|drum|perc|kit|chord|pad|accomp|harmony|rhythm|comp\b|left|string ens|organ", re.I)


def detect_format(data: bytes, filename: str | None = None) -> str:
    """The format from the file's first bytes (a misleading file name does not matter)."""
    head = data[:512].lstrip()
    if data[:4] == b"MThd" or data[:4] == b"RIFF" and b"RMID" in data[:16]:
        return "midi"
    if data[:2] == b"PK":
        return "musicxml"  # compressed .mxl
    if head.startswith(b"<?xml") or b"<score-partwise" in data[:4096] or b"<score-timewise" in data[:4096]:
        return "musicxml"
    text = data[:65536].decode("latin-1")
    if re.search(r"^\s*X:\s*\d*", text, re.M) or re.search(r"^\s*K:", text, re.M):
        return "abc"
    ext = os.path.splitext(filename or "")[1].lower()
    hint = {".mid": "midi", ".midi": "midi", ".xml": "musicxml", ".musicxml": "musicxml", ".mxl": "musicxml",
            ".abc": "abc"}.get(ext)
    raise InvalidMelody(
        "not a recognised score: send a standard MIDI file, MusicXML (.xml/.musicxml/.mxl) or ABC notation"
        + (f" (the name says {hint}, but the content is not)" if hint else "")
    )


def load_score(data: bytes, *, format: str | None = None, filename: str | None = None) -> Melody:
    """Parse a score and return its melody; raises the package's typed errors for unusable input."""
    if not data:
        raise InvalidMelody("the score is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise MelodyLimitExceeded(f"the score is {len(data)} bytes; at most {MAX_BYTES} are accepted")
    fmt = format or detect_format(data, filename)
    if fmt not in FORMATS:
        raise InvalidMelody(f"unsupported score format {fmt!r}; use one of {', '.join(FORMATS)}")
    split = ""
    if fmt == "midi":
        _check_midi_chunks(data)
        data, split = _a_track_per_channel(data)
    score, where = _parse(data, fmt)
    return melody_from_score(score, where="; ".join(w for w in (split, where) if w))


def _check_midi_chunks(data: bytes) -> None:
    """music21 reads a cut-off MIDI file without complaint, so chunk lengths are checked here."""
    if data[:4] == b"RIFF":
        return
    if len(data) < 14 or int.from_bytes(data[4:8], "big") < 6:
        raise InvalidMelody("the MIDI file is truncated: its header is incomplete")
    tracks = int.from_bytes(data[10:12], "big")
    pos = 8 + int.from_bytes(data[4:8], "big")
    found = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], "big")
        if pos + 8 + size > len(data):
            raise InvalidMelody(
                f"the MIDI file is truncated: track {found + 1} declares {size} bytes but only "
                f"{len(data) - pos - 8} are present"
            )
        if data[pos:pos + 4] == b"MTrk":
            found += 1
        pos += 8 + size
    if found < tracks:
        raise InvalidMelody(f"the MIDI file is truncated: its header declares {tracks} tracks but {found} are present")


def _a_track_per_channel(data: bytes) -> tuple[bytes, str]:
    """A MIDI file whose tracks each hold one channel, and what was done. music21 makes a part of each track, so
    a format-0 file (every channel in one track, as many exporters write) became one part, whose top line is
    whatever sounds highest: the strings above the melody, say. Tracks that mix channels are split by channel;
    meta events (tempo, metre, names) go to a first track of their own. Files mido cannot read are left to
    music21, which gives the error."""
    import io

    import mido

    try:
        original = mido.MidiFile(file=io.BytesIO(data))
    except Exception:  # noqa: BLE001 - mido is stricter than music21; music21 explains what is wrong
        return data, ""
    if original.type == 2:
        return data, ""
    mixed = [len({m.channel for m in track if m.type == "note_on"}) > 1 for track in original.tracks]
    if not any(mixed):
        return data, ""
    conductor: list[tuple[int, mido.Message]] = []
    tracks: dict[tuple[int, int], list[tuple[int, mido.Message]]] = {}
    for number, track in enumerate(original.tracks):
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "end_of_track" or not (message.is_meta or hasattr(message, "channel")):
                continue
            if message.is_meta and (mixed[number] or message.type in _CONDUCTOR_META):
                conductor.append((tick, message))
            else:
                channel = message.channel if mixed[number] and not message.is_meta else -1
                tracks.setdefault((number, channel), []).append((tick, message))
    out = mido.MidiFile(type=1, ticks_per_beat=original.ticks_per_beat)
    for events in [conductor] + [tracks[key] for key in sorted(tracks)]:
        track = mido.MidiTrack()
        last = 0
        for tick, message in sorted(events, key=lambda e: e[0]):
            track.append(message.copy(time=tick - last))
            last = tick
        out.tracks.append(track)
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue(), "one track per MIDI channel"


_CONDUCTOR_META = {"set_tempo", "time_signature", "key_signature"}


def melody_from_score(score, *, where: str = "") -> Melody:
    """The melody of an already parsed music21 Score (or Part): choose a part, take its top line."""
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    candidates = []
    percussion = 0
    for i, part in enumerate(parts):
        notes, raw, chordal, pitched = _part_notes(part)
        if not pitched and raw:
            percussion += 1
        if len(notes) >= 1:
            candidates.append((i, part, notes, raw, chordal))
    if not candidates:
        if percussion:
            raise InvalidMelody("the score has only percussion parts; send a file with a pitched melody part")
        raise InvalidMelody("the score contains no notes; send a file with a pitched melody part")
    i, part, notes, reason = _choose(candidates, len(parts))
    if len(notes) < MIN_NOTES:
        raise InvalidMelody(f"the melody part has only {len(notes)} pitched notes; at least {MIN_NOTES} are needed")
    if len(notes) > MAX_NOTES:
        raise MelodyLimitExceeded(f"the melody has {len(notes)} notes; at most {MAX_NOTES} are accepted")
    onset = np.array([n[0] for n in notes])
    duration = np.array([n[1] for n in notes])
    pitch = np.array([n[2] for n in notes])
    bad = (pitch < MIN_PITCH) | (pitch > MAX_PITCH)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ImplausibleMelody(
            f"melody note {k + 1} has MIDI pitch {pitch[k]:.0f}, outside the playable range {MIN_PITCH}-{MAX_PITCH}"
        )
    start, end = _seconds(score, onset, onset + duration)
    if end[-1] - start[0] > MAX_SECONDS:
        raise MelodyLimitExceeded(
            f"the melody lasts {end[-1] - start[0]:.0f} s; at most {MAX_SECONDS:.0f} s are accepted"
        )
    bar, metric, measure, starts_q = _bars(part, onset)
    notes_of = {"pitch": pitch, "onset": onset, "duration": duration, "start": start, "end": end, "bar": bar,
                "metric": metric}
    order, played = _played_order(part)
    if order is not None:
        starts_s = _seconds(score, starts_q, starts_q)[0]
        out = _as_played(order, measure, starts_q, starts_s, notes_of)
        if len(out["pitch"]) > MAX_NOTES or out["end"][-1] - out["start"][0] > MAX_SECONDS:
            played = "repeats left as written (played out the melody would exceed the limits)"
        else:
            notes_of = out
    name = _part_name(part)
    source = (where + "; " if where else "") + (
        f"part {i + 1} of {len(parts)}" + (f" ({name!r})" if name else "") + f": {reason}"
    ) + (f"; {played}" if played else "")
    return Melody(notes_of["pitch"].astype(np.float64), notes_of["onset"], notes_of["duration"], notes_of["start"],
                  notes_of["end"], notes_of["bar"], np.ones(len(notes_of["pitch"]), dtype=np.float32),
                  notes_of["metric"], source)


def _parse(data: bytes, fmt: str):
    from music21 import converter, stream

    where = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "midi":
                parsed = converter.parseData(data, format="midi")
            elif fmt == "musicxml" and data[:2] == b"PK":
                fd, path = tempfile.mkstemp(suffix=".mxl")
                try:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data)
                    parsed = converter.parse(path, format="musicxml", forceSource=True)
                finally:
                    os.unlink(path)
            else:
                text = data.decode("utf-8") if fmt == "musicxml" else data.decode("latin-1")
                parsed = converter.parseData(text, format=fmt)
    except (RecursionError, MemoryError):
        raise InvalidMelody(f"the {fmt} file is too deeply nested or too large to read") from None
    except Exception as exc:  # music21 raises many unrelated types for malformed input
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InvalidMelody(f"the {fmt} file cannot be read: {message}") from exc
    if isinstance(parsed, stream.Opus):
        scores = [s for s in parsed.scores if s.recurse().notes]
        if not scores:
            raise InvalidMelody(f"the {fmt} file contains no notes")
        where = f"tune 1 of {len(parsed.scores)} in the file"
        parsed = scores[0]
    if fmt == "abc" and not isinstance(parsed, stream.Stream):
        raise InvalidMelody("the ABC text contains no tune")
    return parsed, where


def _played_order(part) -> tuple[list[int] | None, str]:
    """Indices of the part's measures in the order played, and what was done (None: as written).

    A quotation that runs through a repeat sign is one stretch of the performance that quotes it, so the
    reference must be one stretch too (folk tunes are mostly AABB). Repeat signs and first and second
    endings are followed; an end repeat without a start goes back to the bar after the previous end repeat
    and its endings, as players read it (O'Neill's ends each strain with :| alone). music21's own
    expandRepeats reads such a sign as a repeat from the top, nesting them into hundreds of copies, and costs
    time quadratic in the measures (20 s for 200); this walk is linear. Da capo and dal segno are not followed.
    """
    from music21 import bar, repeat, spanner, stream

    measures = list(part.getElementsByClass(stream.Measure))

    def sign(line, direction: str) -> int:
        return (line.times or 2) if isinstance(line, bar.Repeat) and line.direction == direction else 0

    # a sign may sit on either side of the barline it marks (music21's ABC reader puts some on the next bar)
    ends = [max(sign(m.rightBarline, "end"), sign(nxt.leftBarline, "end") if nxt is not None else 0)
            for m, nxt in zip(measures, measures[1:] + [None])]
    if not any(ends):
        return None, ""
    starts = [bool(sign(m.leftBarline, "start") or (prev is not None and sign(prev.rightBarline, "start")))
              for m, prev in zip(measures, [None] + measures[:-1])]
    endings = [{n for site in m.getSpannerSites() if isinstance(site, spanner.RepeatBracket)
                for n in site.numberRange} for m in measures]
    order: list[int] = []
    section, current, taken = 0, 1, [1] * len(measures)
    i = 0
    while i < len(measures):
        if (starts[i] and section != i) or (i > 0 and endings[i - 1] and not endings[i] and current > 1):
            section, current = i, 1
        if endings[i] and current not in endings[i]:
            i += 1
            continue
        order.append(i)
        if len(order) > MAX_PLAYED_RATIO * len(measures):
            return None, (f"repeats left as written (played out they would last over {MAX_PLAYED_RATIO:.0f} times "
                          f"as long)")
        if ends[i] and taken[i] < ends[i]:
            taken[i] += 1
            current = taken[i]
            i = section
            continue
        if ends[i] and not endings[i]:
            section, current = i + 1, 1
        i += 1
    skipped = " (da capo and dal segno not followed)" if part.recurse().getElementsByClass(
        repeat.RepeatExpression).first() is not None else ""
    return order, "repeats played out" + skipped


def _as_played(order: list[int], measure: np.ndarray, starts_q: np.ndarray, starts_s: np.ndarray,
               arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The notes measure by measure in the order played, beats and seconds moved to where each measure is
    played; bar numbers and metric weights stay the written ones."""
    length_q, length_s = np.diff(starts_q), np.diff(starts_s)
    picked, shift_q, shift_s = [], [], []
    at_q, at_s = 0.0, 0.0
    for j in order:
        notes = np.flatnonzero(measure == j)
        picked.append(notes)
        shift_q.append(np.full(len(notes), at_q - starts_q[j]))
        shift_s.append(np.full(len(notes), at_s - starts_s[j]))
        at_q, at_s = at_q + length_q[j], at_s + length_s[j]
    rows, dq, ds = np.concatenate(picked), np.concatenate(shift_q), np.concatenate(shift_s)
    out = {name: values[rows] for name, values in arrays.items()}
    out["onset"] = out["onset"] + dq
    out["start"], out["end"] = out["start"] + ds, out["end"] + ds
    return out


def _part_notes(part):
    """Monophonic top line of one part: [(onset, duration, pitch)], raw note count, chord share, pitched?"""
    from music21 import note as m21note
    from music21 import percussion

    events = []
    raw = 0
    chords = 0
    unpitched = 0
    drum_channel = any(getattr(inst, "midiChannel", None) == 9 or type(inst).__name__.endswith("Percussion")
                       or "UnpitchedPercussion" in [c.__name__ for c in type(inst).__mro__]
                       for inst in part.getInstruments(returnDefault=False))
    for el in part.flatten().notes:
        raw += 1
        if isinstance(el, (m21note.Unpitched, percussion.PercussionChord)):
            unpitched += 1
            continue
        ql = float(el.quarterLength)
        if ql <= 0 or el.duration.isGrace:
            continue
        pitches = [p.ps for p in el.pitches]
        if not pitches:
            continue
        if len(pitches) > 1:
            chords += 1
        tie = el.tie.type if el.tie is not None else None
        events.append((float(el.offset), ql, max(pitches), tie))
    if drum_channel or (raw and unpitched == raw):
        return [], raw, 0.0, False
    events = _tied(events)
    together = chords + sum(abs(a[0] - b[0]) < 1e-6 for a, b in zip(events, events[1:]))
    one_line = together <= ONE_LINE_SHARE * len(events)
    notes: list[list] = []
    for onset, ql, pitch in events:
        if notes:
            prev = notes[-1]
            prev_end = prev[0] + prev[1]
            if abs(onset - prev[0]) < 1e-6:
                continue  # a lower note at the same onset: skyline keeps the top one
            if not one_line and prev_end > onset + 1e-6 and prev[2] > pitch and prev_end - onset > 0.5 * ql:
                continue  # starts under a higher sounding note: an inner voice
            prev[1] = min(prev[1], onset - prev[0])
        notes.append([onset, ql, pitch])
    chordal = chords / max(1, len(events))
    overlap = len(events) - len(notes)
    return [tuple(n) for n in notes], raw, chordal + overlap / max(1, len(events)), True


def _tied(events: list[tuple[float, float, float, str | None]]) -> list[tuple[float, float, float]]:
    """(onset, duration, pitch) sorted by onset, highest first, each tied continuation joined to the note it
    continues: music21 splits a note at every barline, and a continuation that starts beside another note
    would otherwise look like a note struck with it."""
    joined: list[list[float]] = []
    waiting: dict[float, int] = {}
    for onset, ql, pitch, tie in sorted(events, key=lambda e: (e[0], -e[2])):
        k = waiting.pop(pitch, None)
        if tie in ("stop", "continue") and k is not None and abs(joined[k][0] + joined[k][1] - onset) < 1e-6:
            joined[k][1] += ql
        else:
            joined.append([onset, ql, pitch])
            k = len(joined) - 1
        if tie in ("start", "continue"):
            waiting[pitch] = k
    return [(a, b, c) for a, b, c in joined]


def _part_name(part) -> str:
    names = [part.partName or ""]
    for inst in part.getInstruments(returnDefault=False):
        names += [inst.partName or "", inst.instrumentName or ""]
    return next((n for n in names if n), "")


def _choose(candidates, total: int):
    if len(candidates) == 1:
        i, part, notes, _, chordal = candidates[0]
        reason = "the only pitched part" if total > 1 else "single part"
        if chordal > 0.05:
            reason += ", top note of chords/voices"
        return i, part, notes, reason
    best = None
    for i, part, notes, raw, chordal in candidates:
        if len(notes) < MIN_NOTES:
            continue
        name = " ".join([_part_name(part)] + [getattr(inst, "instrumentName", "") or ""
                                                for inst in part.getInstruments(returnDefault=False)])
        bonus = 3.0 if _LEAD_NAMES.search(name) else (-3.0 if _BACKING_NAMES.search(name) else 0.0)
        mean_pitch = float(np.average([n[2] for n in notes], weights=[n[1] for n in notes]))
        score = bonus + 2.0 * (1.0 - min(1.0, chordal)) + (mean_pitch - 60.0) / 12.0 + 0.3 * math.log2(len(notes))
        if best is None or score > best[0]:
            if bonus > 0:
                reason = f"named like a lead part among {len(candidates)} pitched parts"
            else:
                reason = (f"the highest mostly single-note part among {len(candidates)} pitched parts "
                          f"(mean pitch {mean_pitch:.0f}, {100 * min(1.0, chordal):.0f}% chords/overlaps)")
            best = (score, i, part, notes, reason)
    if best is None:
        i, part, notes, _, _ = max(candidates, key=lambda c: len(c[2]))
        return i, part, notes, "the part with most notes (every part is very short)"
    return best[1], best[2], best[3], best[4]


def _seconds(score, onset: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and ends in seconds from the score's tempo marks (120 quarter notes a minute if none)."""
    marks = []
    try:
        boundaries = score.metronomeMarkBoundaries()
    except Exception:
        boundaries = []
    for lo, hi, mark in boundaries:
        qpm = mark.getQuarterBPM() if mark is not None else None
        if qpm is None or not math.isfinite(qpm):
            qpm = DEFAULT_QPM
        if not MIN_QPM <= qpm <= MAX_QPM and lo < end[-1]:
            raise ImplausibleMelody(
                f"tempo {qpm:.4g} quarter notes a minute at beat {lo:g} is outside {MIN_QPM:.0f}-{MAX_QPM:.0f}"
            )
        marks.append((float(lo), float(qpm)))
    if not marks or marks[0][0] > 0:
        marks.insert(0, (0.0, DEFAULT_QPM))
    knots_q = [marks[0][0]]
    knots_s = [0.0]
    for (lo, qpm), (nxt, _) in zip(marks, marks[1:] + [(max(float(end[-1]), marks[-1][0]) + 1.0, 0.0)]):
        knots_q.append(nxt)
        knots_s.append(knots_s[-1] + (nxt - lo) * 60.0 / qpm)
    kq, ks = np.array(knots_q), np.array(knots_s)
    return np.interp(onset, kq, ks), np.interp(end, kq, ks)


def _bars(part, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Measure number (music21's numbering: a pickup is bar 0) and metric weight of each onset; the index of its
    measure, and the measures' starts in beats with the part's end after the last."""
    from music21 import meter, stream

    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:
        phase = onset % 4.0
        return ((onset // 4).astype(np.int32) + 1, _weights(phase, np.full(len(onset), 1.0), np.full(len(onset), 2)),
                np.zeros(len(onset), dtype=np.int64), np.array([0.0, float(part.highestTime)]))
    offsets = np.array([float(m.offset) for m in measures])
    numbers = np.array([m.number for m in measures], dtype=np.int32)
    beat = np.empty(len(measures))
    split = np.empty(len(measures), dtype=np.int64)
    pad = np.empty(len(measures))
    ts = None
    for k, m in enumerate(measures):
        ts = m.timeSignature or ts
        if ts is None:
            ts = meter.TimeSignature("4/4")
        beat[k] = float(ts.beatDuration.quarterLength) or 1.0
        split[k] = 3 if ts.beatDivisionCount == 3 else 2
        pad[k] = float(m.paddingLeft or 0.0)
    idx = np.clip(np.searchsorted(offsets, onset + 1e-6, side="right") - 1, 0, len(measures) - 1)
    phase = onset - offsets[idx] + pad[idx]
    last = float(offsets[-1] + measures[-1].duration.quarterLength)
    return (numbers[idx], _weights(phase, beat[idx], split[idx]), idx.astype(np.int64),
            np.append(offsets, max(last, float(part.highestTime))))


def _weights(phase: np.ndarray, beat: np.ndarray, split: np.ndarray) -> np.ndarray:
    def on(grid: np.ndarray) -> np.ndarray:
        r = np.mod(phase + 1e-6, grid)
        return r < 2e-6

    w = np.full(len(phase), 0.125, dtype=np.float32)
    w[on(beat / split)] = 0.25
    w[on(beat)] = 0.5
    w[np.abs(phase) < 1e-6] = 1.0
    return w
