"""Evaluation helpers shared by measure.py: material, transformations, queries, scoring of results."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, "/work/main")

from fingerprints.decode import decode  # noqa: E402  (the service's decoder, read-only use)

from landmarks.peaks import Fingerprint, fingerprint  # noqa: E402
from landmarks.spectrum import SAMPLE_RATE  # noqa: E402

RATE = 22_050
"""Source material and transformations run at 22.05 kHz; queries are decoded to 11,025 Hz like the service does."""
TWINS = {"AmbientBattle": "TechBattle", "TechBattle": "AmbientBattle",
         "HellFortressEntrance": "HellFortressTwo", "HellFortressTwo": "HellFortressEntrance",
         "m115": "m116", "m116": "m115"}
"""Pairs that share audio: AmbientBattle/TechBattle (given); HellFortressEntrance/HellFortressTwo (found by
calibration: 20-28 s of one reproduces 20-28 s of the other at pitch 0.00 st, tempo 1.000, 44% of peaks
landing); and music21's corpus holds Schumann's Dichterliebe no. 2 twice (schumann_robert/opus48no2 and
dichterliebe_no2). A match between a pair counts as correct; neither is unrelated music for the other."""


@dataclass(frozen=True)
class Work:
    number: int
    name: str
    path: Path
    split: str
    kind: str
    seconds: float


@dataclass(frozen=True)
class Piece:
    """One fragment of a query: `seconds` of work `work` from `source_start`, placed at `query_start`."""

    work: str
    source_start: float
    seconds: float
    query_start: float
    query_seconds: float
    """Length of the fragment in the query after re-timing."""
    pitch: float = 0.0
    tempo: float = 1.0


@dataclass
class Query:
    name: str
    condition: str
    pieces: list[Piece]
    data: bytes = b""


def works() -> list[Work]:
    manifest = json.loads((ROOT / "data" / "manifest.json").read_text())
    return [Work(i, m["name"], ROOT / m["path"], m["split"], m["kind"], m["seconds"]) for i, m in enumerate(manifest)]


def read(work: Work, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    info = sf.info(str(work.path))
    a = int(start * info.samplerate)
    b = None if seconds is None else a + int(seconds * info.samplerate)
    x, _ = sf.read(str(work.path), start=a, stop=b, dtype="float32")
    return x


def wav_bytes(x: np.ndarray, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def sox(x: np.ndarray, effect: list[str]) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.wav"), os.path.join(d, "out.wav")
        sf.write(src, x, RATE, subtype="FLOAT")
        subprocess.run(["sox", src, dst] + effect + ["rate", str(RATE)], check=True, stderr=subprocess.DEVNULL)
        y, _ = sf.read(dst, dtype="float32")
    return y.mean(axis=1) if y.ndim > 1 else y


def mp3(x: np.ndarray, bitrate: str = "64k") -> bytes:
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.wav"), os.path.join(d, "out.mp3")
        sf.write(src, np.clip(x, -1, 1), RATE, subtype="PCM_16")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-i", src, "-b:a", bitrate, dst], check=True)
        return Path(dst).read_bytes()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def mix_under(x: np.ndarray, background: np.ndarray, db: float) -> np.ndarray:
    """x with `background` added at `db` relative to x's RMS (0: equal loudness), then peak-normalised if it clips."""
    b = background[: len(x)]
    y = x + b * (rms(x) / rms(b)) * 10 ** (db / 20)
    peak = float(np.max(np.abs(y)))
    return y / peak * 0.95 if peak > 0.95 else y


def decoded(data: bytes) -> np.ndarray:
    return decode(data, sample_rate=SAMPLE_RATE, max_seconds=900).samples


def query_fingerprint(query: Query) -> Fingerprint:
    return fingerprint(decoded(query.data))


def same_material(reference: Fingerprint, a: float, b: float, seconds: float) -> bool:
    """Whether the reference repeats itself: at least half its peaks in [a, a + seconds) reappear (+-1 frame,
    +-0.5 bin) shifted to b. Tells a match that points at another occurrence of a loop or a repeated
    section from one that points at the wrong place."""
    from landmarks.spectrum import FRAME_S
    frames, bins = reference.frames, reference.bins
    fa, fb, n = int(a / FRAME_S), int(b / FRAME_S), int(seconds / FRAME_S)
    sel = (frames >= fa) & (frames < fa + n)
    if sel.sum() < 10:
        return False
    codes = np.unique(frames * 512 + np.round(bins * 2).astype(np.int64))
    shifted_f, shifted_b = frames[sel] - fa + fb, np.round(bins[sel] * 2).astype(np.int64)
    hit = np.zeros(int(sel.sum()), dtype=bool)
    for dt in (-1, 0, 1):
        for db in (-1, 0, 1):
            c = (shifted_f + dt) * 512 + shifted_b + db
            hit |= codes[np.minimum(np.searchsorted(codes, c), len(codes) - 1)] == c
    return bool(hit.mean() >= 0.5)


def judge(query: Query, matches: list, numbers: dict[str, int], references: dict[int, Fingerprint] | None = None) -> dict:
    """Per piece: found (a match of the right work, or its twin, overlapping the piece's query time by at
    least half the piece or 2.5 s, whichever is less: a sparse excerpt may sound for only part of its
    time), the share of the piece that match covers, whether its reference start is within 1.5 s of
    the truth, and the transform errors."""
    out = []
    for piece in query.pieces:
        right = {numbers[piece.work]} | ({numbers[TWINS[piece.work]]} if piece.work in TWINS else set())
        best = None
        for m in matches:
            if m.work_number not in right:
                continue
            overlap = min(m.query_end, piece.query_start + piece.query_seconds) - max(m.query_start, piece.query_start)
            if overlap >= min(0.5 * piece.query_seconds, 2.5) and (best is None or overlap > best[0]):
                best = (overlap, m)
        entry = {"work": piece.work, "found": best is not None}
        if best is not None:
            m = best[1]
            entry["covered"] = best[0] / piece.query_seconds
            expected_ref = piece.source_start + (m.query_start - piece.query_start) * piece.tempo
            entry.update(ref_error=abs(m.reference_start - expected_ref), score=m.score,
                         ref_repeat=bool(references) and abs(m.reference_start - expected_ref) > 1.5 and same_material(
                             references[m.work_number], expected_ref, m.reference_start, min(5.0, m.query_end - m.query_start)),
                         pitch_error=abs(getattr(m, "pitch_shift", 0.0) - piece.pitch),
                         tempo_error=abs(getattr(m, "tempo_ratio", 1.0) - piece.tempo))
        out.append(entry)
    wrong = [m for m in matches if not any(
        m.work_number in ({numbers[p.work]} | ({numbers[TWINS[p.work]]} if p.work in TWINS else set())) for p in query.pieces)]
    return {"pieces": out, "wrong": len(wrong)}
