"""Standard MIDI files (format 1) written by hand: the melody tests and scripts/bench/melody.py render
tunes, accompaniment and drums from them with FluidSynth."""

from __future__ import annotations

import struct

import numpy as np

TPQ = 480


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, bytes]]) -> bytes:
    events.sort(key=lambda e: (e[0], 0 if e[1][0] & 0xF0 == 0x80 else 1))
    body = b""
    last = 0
    for tick, data in events:
        body += _vlq(tick - last) + data
        last = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def midi_bytes(tracks: list[dict], qpm: float, numerator: int = 4, denominator: int = 4, *,
               one_track: bool = False) -> bytes:
    """tracks: [{name, program, channel, notes: [(pitch, onset_ql, dur_ql, velocity)]}]. With one_track, a
    format-0 file: every channel's events in a single track, as many exporters write."""
    tempo = int(round(60_000_000 / qpm))
    meta = [(0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
            (0, b"\xff\x58\x04" + bytes([numerator, int(np.log2(denominator)), 24, 8]))]
    tracks_events = [meta]
    for tr in tracks:
        ch = tr.get("channel", 0)
        ev = []
        name = tr.get("name", "").encode("latin-1")
        ev.append((0, b"\xff\x03" + _vlq(len(name)) + name))
        if ch != 9:
            ev.append((0, bytes([0xC0 | ch, tr.get("program", 0)])))
        for pitch, on, dur, vel in tr["notes"]:
            a = int(round(on * TPQ))
            b = max(a + 1, int(round((on + dur) * TPQ)))
            ev.append((a, bytes([0x90 | ch, int(pitch), int(vel)])))
            ev.append((b, bytes([0x80 | ch, int(pitch), 0])))
        tracks_events.append(ev)
    if one_track:
        return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPQ) + _track([e for ev in tracks_events for e in ev])
    chunks = [_track(ev) for ev in tracks_events]
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), TPQ)
    return header + b"".join(chunks)
