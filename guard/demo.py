"""A small synthetic demo catalog, so a fresh `scripts/serve` has something to match against."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guard.catalog import Catalog, WorkDetails

DEMO_RATE = 22_050
_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])


@dataclass(frozen=True)
class DemoWork:
    work_id: str
    title: str
    seed: int


DEMO_WORKS = (
    DemoWork("demo-001", "Demo Study in C", 1),
    DemoWork("demo-002", "Demo Reel in G", 2),
    DemoWork("demo-003", "Demo Air in D", 3),
)


def synth_music(seed: int, seconds: float, rate: int = DEMO_RATE) -> np.ndarray:
    """A deterministic piece: a melody over changing triads with harmonics and note envelopes.

    Good enough for fingerprints (chroma moves, onsets vary), cheap enough for tests.
    """
    rng = np.random.default_rng(seed)
    root = 48 + int(rng.integers(0, 12))
    out = np.zeros(int(seconds * rate), dtype=np.float64)
    t = 0.0
    while t < seconds:
        chord_len = float(rng.choice([1.0, 1.5, 2.0]))
        degree = int(rng.integers(0, 7))
        chord = [root + _SCALE[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        _add_note(out, rate, t, chord_len, chord, 0.12)
        s = t
        while s < t + chord_len:
            length = float(rng.choice([0.125, 0.25, 0.25, 0.5]))
            note = root + 12 + _SCALE[int(rng.integers(0, 7))] + 12 * int(rng.integers(0, 2))
            _add_note(out, rate, s, length, [note], 0.25)
            s += length
        t += chord_len
    peak = np.max(np.abs(out)) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def _add_note(out: np.ndarray, rate: int, start: float, length: float, notes: list[int], level: float) -> None:
    a, b = int(start * rate), min(len(out), int((start + length) * rate))
    if b <= a:
        return
    t = np.arange(b - a) / rate
    envelope = np.exp(-3.0 * t / max(length, 1e-3)) * np.minimum(1.0, t / 0.01)
    for note in notes:
        freq = 440.0 * 2 ** ((note - 69) / 12)
        for harmonic, gain in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12)):
            out[a:b] += level * gain * envelope * np.sin(2 * np.pi * freq * harmonic * t)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def install_demo(catalog: Catalog, folder: Path) -> list[Path]:
    """Register the demo works (idempotent) and write query files that show a match and a clear."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces = {w.work_id: synth_music(w.seed, 60.0) for w in DEMO_WORKS}
    for work in DEMO_WORKS:
        catalog.register(
            WorkDetails(work.work_id, work.title, "Guard Demo Records", metadata={"source": "synthesised demo"}),
            wav_bytes(pieces[work.work_id], DEMO_RATE),
        )
    excerpt = pieces["demo-002"][int(20 * DEMO_RATE):int(35 * DEMO_RATE)]
    queries = {
        "excerpt-of-demo-002.wav": excerpt,
        "unrelated.wav": synth_music(99, 15.0),
    }
    paths = []
    for name, samples in queries.items():
        path = folder / name
        path.write_bytes(wav_bytes(samples, DEMO_RATE))
        paths.append(path)
    return paths
