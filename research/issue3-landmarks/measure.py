"""Reproduce every figure in REPORT.md.

    nice -n 19 .venv/bin/python measure.py <step> [...]

Steps (each writes results/<step>.json and prints its table):
  calibrate   fit the null model on unrelated music (calibration split + other registered works)
  detect      detection per transformation on 10 s excerpts, stitched fragments, 5 s quotes in 3 min
  fp          false positives on 10 s and 30 s windows of unregistered music, and synthetic signals
  timing      CPU time per stage for 3-minute tracks and 10 s excerpts, Chromaprint included
  memory      index and resident-fingerprint bytes per hour of reference
  scale       candidate search latency (and candidate recall) at 500 and 5,000 hours
  hashes      the hash-design comparison (triplets vs four points, probing fields) on real music
  chromaprint the current Chromaprint pipeline on the same 10 s queries, for comparison
Material comes from prep.py (data/manifest.json); everything is deterministic (fixed seeds).
"""

from __future__ import annotations

import json
import math
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

import bench
from bench import Piece, Query

from landmarks import hashes as H
from landmarks.hashes import query_constellations, reference_constellations
from landmarks.index import FIRST_BASE, LandmarkIndex, _Segment, directory_bits
from landmarks.matcher import MAX_FALSE_MATCH, LandmarkMatcher
from landmarks.peaks import Fingerprint, fingerprint
from landmarks.spectrum import FRAME_S, SAMPLE_RATE
from landmarks.verify import NullModel

RESULTS = bench.ROOT / "results"
RATE = bench.RATE
EXCERPT_S = 10.0
EXCERPT_FRACTIONS = (0.1, 0.37, 0.63, 0.9)
SEMITONE = 2 ** (1 / 12)

CONDITIONS: dict[str, tuple[str, object, float, float]] = {
    # name: (kind, argument, pitch shift in semitones, tempo ratio)
    "clean": ("sox", [], 0.0, 1.0),
    "mp3 64 kbps": ("mp3", "64k", 0.0, 1.0),
    "low-pass 3.5 kHz + EQ": ("sox", ["lowpass", "3500", "bass", "+6", "equalizer", "1500", "2q", "-6"], 0.0, 1.0),
    "white noise 10 dB SNR": ("noise", 10.0, 0.0, 1.0),
    "reverb": ("sox", ["reverb"], 0.0, 1.0),
    "pitch +1 st": ("sox", ["pitch", "100"], 1.0, 1.0),
    "pitch -1 st": ("sox", ["pitch", "-100"], -1.0, 1.0),
    "pitch +2 st": ("sox", ["pitch", "200"], 2.0, 1.0),
    "pitch -2 st": ("sox", ["pitch", "-200"], -2.0, 1.0),
    "tempo +5%": ("sox", ["tempo", "1.05"], 0.0, 1.05),
    "tempo -5%": ("sox", ["tempo", "0.95"], 0.0, 0.95),
    "tempo +10%": ("sox", ["tempo", "1.10"], 0.0, 1.10),
    "tempo -10%": ("sox", ["tempo", "0.90"], 0.0, 0.90),
    "speed +3%": ("sox", ["speed", "1.03"], 12 * math.log2(1.03), 1.03),
    "speed -3%": ("sox", ["speed", "0.97"], 12 * math.log2(0.97), 0.97),
    "speed +5%": ("sox", ["speed", "1.05"], 12 * math.log2(1.05), 1.05),
    "speed -5%": ("sox", ["speed", "0.95"], 12 * math.log2(0.95), 0.95),
    "mixed, other music at -6 dB": ("mix", -6.0, 0.0, 1.0),
    "mixed, other music at 0 dB": ("mix", 0.0, 0.0, 1.0),
}


# ---------------------------------------------------------------- material

def catalog() -> tuple[list[bench.Work], dict[int, Fingerprint]]:
    """Registered works and their fingerprints (cached: decoding + fingerprinting 1.8 h takes a minute)."""
    works = bench.works()
    registered = [w for w in works if w.split == "registered"]
    cache = RESULTS / "reference_fingerprints.pkl"
    if cache.exists():
        stored = pickle.loads(cache.read_bytes())
        fps = {n: Fingerprint.from_bytes(b) for n, b in stored.items()}
    else:
        fps = {w.number: fingerprint(bench.decoded(bench.wav_bytes(bench.read(w)))) for w in registered}
        RESULTS.mkdir(exist_ok=True)
        cache.write_bytes(pickle.dumps({n: fp.to_bytes() for n, fp in fps.items()}))
    return works, fps


def transform(x: np.ndarray, condition: str, rng: np.random.Generator, backgrounds: list[bench.Work]) -> bytes:
    kind, arg, _, _ = CONDITIONS[condition]
    if kind == "sox":
        return bench.wav_bytes(bench.sox(x, arg) if arg else x)
    if kind == "mp3":
        return bench.mp3(x, arg)
    if kind == "noise":
        noise = rng.standard_normal(len(x)).astype(np.float32)
        y = x + noise * bench.rms(x) / bench.rms(noise) * 10 ** (-arg / 20)
        return bench.wav_bytes(y / max(1.0, float(np.abs(y).max()) / 0.95))
    if kind == "mix":
        bed = backgrounds[int(rng.integers(len(backgrounds)))]
        start = float(rng.uniform(0, max(0.0, bed.seconds - len(x) / RATE - 0.5)))
        return bench.wav_bytes(bench.mix_under(x, bench.read(bed, start, len(x) / RATE + 0.1), arg))
    raise ValueError(kind)


def excerpt_queries(registered: list[bench.Work], backgrounds: list[bench.Work], conditions: list[str]) -> list[Query]:
    rng = np.random.default_rng(2024)
    out = []
    for w in registered:
        source = bench.read(w)
        for frac in EXCERPT_FRACTIONS:
            start = round(frac * (w.seconds - EXCERPT_S), 2)
            x = source[int(start * RATE): int((start + EXCERPT_S) * RATE)]
            for c in conditions:
                _, _, pitch, tempo = CONDITIONS[c]
                q = Query(f"{w.name}@{start}", c, [Piece(w.name, start, EXCERPT_S, 0.0, EXCERPT_S / tempo, pitch, tempo)])
                q.data = transform(x, c, rng, backgrounds)
                out.append(q)
    return out


def stitched_queries(registered: list[bench.Work]) -> list[Query]:
    """Three 5 s fragments: of one work (non-chronological), of three works, and of three works each
    processed differently (+1 semitone, 5% slower, clean) to show each fragment gets its own transform."""
    out = []
    n = len(registered)
    fade = int(0.01 * RATE)
    for i, w in enumerate(registered):
        one = [(w, f) for f in (0.85, 0.15, 0.5)]
        three = [(registered[(i + k * 17) % n], (0.3, 0.6, 0.45)[k]) for k in range(3)]
        for name, parts, effects in (("3 fragments of one work", one, [[], [], []]),
                                     ("3 fragments of three works", three, [[], [], []]),
                                     ("3 fragments of three works, +1 st / -5% tempo / clean", three,
                                      [["pitch", "100"], ["tempo", "0.95"], []])):
            pieces, audio, at = [], [], 0.0
            for (work, frac), effect in zip(parts, effects):
                start = round(frac * (work.seconds - 5.0), 2)
                x = bench.read(work, start, 5.0)
                y = bench.sox(x, effect) if effect else x
                y = y * (0.1 / bench.rms(y))
                y[:fade] *= np.linspace(0, 1, fade)
                y[-fade:] *= np.linspace(1, 0, fade)
                pitch = 1.0 if effect == ["pitch", "100"] else 0.0
                tempo = 0.95 if effect == ["tempo", "0.95"] else 1.0
                pieces.append(Piece(work.name, start, 5.0, at, len(y) / RATE, pitch, tempo))
                audio.append(y)
                at += len(y) / RATE
            q = Query(f"{w.name}", name, pieces)
            q.data = bench.wav_bytes(np.concatenate(audio))
            out.append(q)
    return out


def quote_queries(registered: list[bench.Work], beds: list[bench.Work], count: int = 50) -> list[Query]:
    """A 5 s quotation of a registered work at a random place in 3 minutes of unregistered music."""
    rng = np.random.default_rng(5)
    out = []
    fade = int(0.02 * RATE)
    for i in range(count):
        bed_parts, total = [], 0
        order = rng.permutation(len(beds))
        for j in order:
            x = bench.read(beds[j])
            bed_parts.append(x)
            total += len(x)
            if total >= 180 * RATE:
                break
        bed = np.concatenate(bed_parts)[: 180 * RATE]
        w = registered[i % len(registered)]
        start = round(float(rng.uniform(0.1, 0.9)) * (w.seconds - 5.0), 2)
        quote = bench.read(w, start, 5.0)
        at = round(float(rng.uniform(20, 150)), 2)
        a = int(at * RATE)
        quote = quote * (bench.rms(bed[a: a + len(quote)]) / bench.rms(quote))
        quote[:fade] *= np.linspace(0, 1, fade)
        quote[-fade:] *= np.linspace(1, 0, fade)
        bed[a: a + len(quote)] *= np.concatenate([np.linspace(1, 0, fade), np.zeros(len(quote) - 2 * fade), np.linspace(0, 1, fade)])
        bed[a: a + len(quote)] += quote
        q = Query(f"quote{i}:{w.name}", "5 s quote inside 3 min of other music", [Piece(w.name, start, 5.0, at, 5.0)])
        q.data = bench.mp3(bed, "128k")
        out.append(q)
    return out


# ---------------------------------------------------------------- steps

def step_calibrate() -> None:
    """Collect every stretch verification examines for unrelated pairs; fit P(evidence >= e) per stretch."""
    works, fps = catalog()
    matcher = LandmarkMatcher.build(fps.items())
    registered = [w for w in works if w.split == "registered"]
    calibration = [w for w in works if w.split == "calibration"]
    names = {w.name: w.number for w in works}
    rows: list[dict] = []
    queries = 0
    conditions = [("clean", []), ("pitch +1 st", ["pitch", "100"]), ("tempo +10%", ["tempo", "1.1"]), ("pitch -2 st", ["pitch", "-200"])]
    for w in calibration:
        x = bench.read(w)
        own = {names[bench.TWINS[w.name]]} if w.name in bench.TWINS else set()
        for length, hop in ((10.0, 5.0), (30.0, 15.0)):
            for s in np.arange(0.0, max(w.seconds - length, 0.0) + 1e-9, hop):
                seg = x[int(s * RATE): int((s + length) * RATE)]
                for cond, effect in conditions:
                    q = fingerprint(bench.decoded(bench.wav_bytes(bench.sox(seg, effect) if effect else seg)))
                    examined = matcher.examine(q)
                    queries += 1
                    rows += [dict(source="calibration split", query=f"{w.name}@{s}", work=m.work_number, length=length,
                                  condition=cond, peaks=m.peaks, landed=m.landed, evidence=_evidence(m),
                                  trials=len(examined)) for m in examined if m.work_number not in own]
    for w in registered:
        x = bench.read(w)
        own = {w.number} | ({names[bench.TWINS[w.name]]} if w.name in bench.TWINS else set())
        for s in np.arange(2.5, max(w.seconds - 10.0, 0.0) + 1e-9, 10.0):
            seg = x[int(s * RATE): int((s + 10.0) * RATE)]
            for cond, effect in conditions:
                q = fingerprint(bench.decoded(bench.wav_bytes(bench.sox(seg, effect) if effect else seg)))
                examined = matcher.examine(q)
                queries += 1
                rows += [dict(source="other registered works", query=f"{w.name}@{s:.1f}", work=m.work_number, length=10.0,
                              condition=cond, peaks=m.peaks, landed=m.landed, evidence=_evidence(m), trials=len(examined))
                         for m in examined if m.work_number not in own]
    evidence = np.array([r["evidence"] for r in rows])
    fit = _fit_tail(evidence)
    summary = {
        "queries": queries, "stretches": len(rows),
        "evidence_quantiles": {q: round(float(np.quantile(evidence, q)), 2) for q in (0.5, 0.9, 0.99, 0.999)} if len(rows) else {},
        "evidence_max": round(float(evidence.max()), 2) if len(rows) else None,
        "fit": fit,
        "top": sorted(rows, key=lambda r: -r["evidence"])[:10],
        "by_source": {s: {"stretches": sum(r["source"] == s for r in rows),
                          "max": round(max([r["evidence"] for r in rows if r["source"] == s], default=0), 2)}
                      for s in ("calibration split", "other registered works")},
    }
    _save("calibrate", summary)
    (RESULTS / "calibration_rows.json").write_text(json.dumps(rows))
    print(json.dumps({k: v for k, v in summary.items() if k != "top"}, indent=1))


def _evidence(match) -> float:
    """The stretch's evidence, recovered exactly from the counts the match carries."""
    from landmarks.verify import Stretch
    return Stretch(0, 0, match.peaks, match.landed, match.chance).evidence


def _fit_tail(evidence: np.ndarray) -> dict:
    """Exponential tail P(E >= e) = scale * 10 ** (-slope * e), fitted by maximum likelihood above the
    99th percentile (the body of the distribution is irrelevant to a 1e-4 threshold)."""
    threshold = float(np.quantile(evidence, 0.99))
    tail = evidence[evidence >= threshold]
    mean_excess = float(np.mean(tail - threshold))
    slope = 1.0 / (mean_excess * math.log(10))
    scale = 0.01 * 10 ** (slope * threshold)
    return {"threshold": round(threshold, 3), "tail_points": int(len(tail)), "slope": round(slope, 4), "scale": round(scale, 4),
            "check": {f"P(E>={e})": [float(np.mean(evidence >= e)), scale * 10 ** (-slope * e)] for e in
                      (np.quantile(evidence, 0.99), np.quantile(evidence, 0.999), evidence.max())}}


def run_queries(matcher: LandmarkMatcher, queries: list[Query], numbers: dict[str, int]) -> list[dict]:
    out = []
    for q in queries:
        fp = bench.query_fingerprint(q)
        matches = matcher.match(fp)
        verdict = bench.judge(q, matches, numbers, matcher._references)
        verdict.update(name=q.name, condition=q.condition, matches=[asdict(m) for m in matches])
        out.append(verdict)
    return out


def step_detect(conditions: list[str] | None = None) -> None:
    works, fps = catalog()
    matcher = LandmarkMatcher.build(fps.items())
    registered = [w for w in works if w.split == "registered"]
    backgrounds = [w for w in works if w.split == "unregistered"]
    numbers = {w.name: w.number for w in works}
    conditions = conditions or list(CONDITIONS)
    results = run_queries(matcher, excerpt_queries(registered, backgrounds, conditions), numbers)
    if conditions == list(CONDITIONS):
        results += run_queries(matcher, stitched_queries(registered), numbers)
        results += run_queries(matcher, quote_queries(registered, backgrounds), numbers)
    table = _detection_table(results)
    _save("detect", {"table": table, "results": results})
    _print_table(table)


def _detection_table(results: list[dict]) -> list[dict]:
    by = defaultdict(list)
    for r in results:
        by[r["condition"]].append(r)
    table = []
    for cond, rs in by.items():
        pieces = [p for r in rs for p in r["pieces"]]
        found = [p for p in pieces if p["found"]]
        whole = sum(all(p["found"] for p in r["pieces"]) for r in rs)
        table.append({
            "condition": cond, "queries": len(rs), "fragments": len(pieces),
            "detected": len(found), "rate": round(len(found) / len(pieces), 4),
            "all_fragments_of_query": round(whole / len(rs), 4),
            "wrong_work_matches": sum(r["wrong"] for r in rs),
            "covered_half_or_more": round(sum(p.get("covered", 0) >= 0.5 for p in found) / len(pieces), 4),
            "ref_start_within_1.5s": round(float(np.mean([p["ref_error"] <= 1.5 for p in found])), 3) if found else None,
            "ref_start_within_1.5s_or_a_repeat": round(float(np.mean([p["ref_error"] <= 1.5 or p.get("ref_repeat", False) for p in found])), 3) if found else None,
            "pitch_error_median_st": round(float(np.median([p["pitch_error"] for p in found])), 3) if found else None,
            "pitch_error_p95_st": round(float(np.quantile([p["pitch_error"] for p in found], 0.95)), 3) if found else None,
            "tempo_error_median": round(float(np.median([p["tempo_error"] for p in found])), 4) if found else None,
            "tempo_error_p95": round(float(np.quantile([p["tempo_error"] for p in found], 0.95)), 4) if found else None,
        })
    return table


def _print_table(table: list[dict]) -> None:
    for row in table:
        print(" | ".join(str(v) for v in row.values()))


def step_fp() -> None:
    works, fps = catalog()
    matcher = LandmarkMatcher.build(fps.items())
    unregistered = [w for w in works if w.split == "unregistered"]
    trials = defaultdict(int)
    false = defaultdict(list)
    for w in unregistered:
        x = bench.read(w)
        for length, hop in ((10.0, 5.0), (30.0, 10.0)):
            for s in np.arange(0.0, max(w.seconds - length, 0.0) + 1e-9, hop):
                seg = x[int(s * RATE): int((s + length) * RATE)]
                for cond, effect in (("clean", []), ("pitch +2 st", ["pitch", "200"]), ("tempo +10%", ["tempo", "1.1"])):
                    if length == 30.0 and effect:
                        continue
                    matches = matcher.match(fingerprint(bench.decoded(bench.wav_bytes(bench.sox(seg, effect) if effect else seg))))
                    key = f"{int(length)} s windows, {cond}"
                    trials[key] += 1
                    if matches:
                        false[key].append({"window": f"{w.name}@{s}", "matches": [asdict(m) for m in matches]})
    synthetic = {}
    for name, audio in synthetic_signals().items():
        matches = matcher.match(fingerprint(bench.decoded(bench.wav_bytes(audio))))
        synthetic[name] = [asdict(m) for m in matches]
    table = [{"set": k, "trials": v, "false_positives": len(false[k])} for k, v in trials.items()]
    _save("fp", {"table": table, "false": false, "synthetic": synthetic})
    _print_table(table)
    print("synthetic:", {k: len(v) for k, v in synthetic.items()})


def synthetic_signals() -> dict[str, np.ndarray]:
    """Signals that must never match: silence, dither, pure tones, sine melodies, noise, drum loops."""
    rng = np.random.default_rng(9)
    t = np.arange(int(10 * RATE)) / RATE
    out = {"digital silence": np.zeros_like(t, dtype=np.float32),
           "dither -80 dBFS": (rng.standard_normal(len(t)) * 1e-4).astype(np.float32)}
    for f in (110, 440, 1000, 3000):
        out[f"sine {f} Hz"] = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
    out["sine chord A-C#-E"] = (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (440, 554.37, 659.25))).astype(np.float32)
    out["sine sweep 100 Hz-4 kHz"] = (0.5 * np.sin(2 * np.pi * 100 * (40 ** (t / 10) - 1) * 10 / np.log(40))).astype(np.float32)
    for k in range(3):
        notes = 220 * SEMITONE ** rng.integers(0, 24, 40)
        melody = np.concatenate([0.4 * np.sin(2 * np.pi * f * t[: len(t) // 40]) for f in notes])
        out[f"sine melody {k}"] = melody.astype(np.float32)
    out["white noise"] = (0.3 * rng.standard_normal(len(t))).astype(np.float32)
    pink = np.cumsum(rng.standard_normal(len(t)))
    out["brown noise"] = (0.3 * (pink - np.convolve(pink, np.ones(2000) / 2000, "same")) / np.std(pink)).astype(np.float32)
    for bpm in (90, 120, 140):
        out[f"synth drum loop {bpm} bpm"] = synth_drums(bpm, rng)
        out[f"GM drum kit loop {bpm} bpm"] = gm_drums(bpm)
    return out


def synth_drums(bpm: int, rng: np.random.Generator) -> np.ndarray:
    step = 60 / bpm / 2
    n = int(10 * RATE)
    y = np.zeros(n, dtype=np.float32)
    tt = np.arange(int(0.25 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 12)
    snare = (rng.standard_normal(len(tt)) * 0.5 + np.sin(2 * np.pi * 190 * tt)) * np.exp(-tt * 25)
    hat = np.diff(rng.standard_normal(len(tt) + 1)) * np.exp(-tt * 80) * 0.3
    for i in range(int(10 / step)):
        at = int(i * step * RATE)
        for sound, on in ((kick, i % 4 == 0), (snare, i % 4 == 2), (hat, True)):
            if on:
                seg = sound[: n - at]
                y[at: at + len(seg)] += seg
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def gm_drums(bpm: int) -> np.ndarray:
    """A rock beat on General MIDI channel 10, rendered by fluidsynth with the FluidR3 kit."""
    ticks = 480
    events = []
    for i in range(int(10 * bpm / 60 * 2)):
        notes = [42] + ([36] if i % 4 == 0 else []) + ([38] if i % 4 == 2 else [])
        for k, note in enumerate(notes):
            events.append((ticks // 2 if k == 0 and i else 0, 0x99, note, 100))
        for k, note in enumerate(notes):
            events.append((0, 0x89, note, 0))
    track = bytearray()
    track += b"\x00\xff\x51\x03" + int(60_000_000 / bpm).to_bytes(3, "big")
    for delta, status, note, vel in events:
        track += _varlen(delta) + bytes([status, note, vel])
    track += b"\x00\xff\x2f\x00"
    data = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + ticks.to_bytes(2, "big")
    data += b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)
    with tempfile.TemporaryDirectory() as d:
        mid, wav = Path(d) / "d.mid", Path(d) / "d.wav"
        mid.write_bytes(data)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-F", str(wav), "-r", str(RATE),
                        "/usr/share/sounds/sf2/FluidR3_GM.sf2", str(mid)], check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import soundfile as sf
        y, _ = sf.read(str(wav), dtype="float32")
    y = y.mean(axis=1) if y.ndim > 1 else y
    return y[: int(10 * RATE)]


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def step_timing() -> None:
    """Process CPU time (one thread) per stage: immune to the other jobs sharing this machine."""
    sys.path.insert(0, "/work/main")
    from fingerprints import AudioMatcher
    from fingerprints import chromaprint as cp
    from fingerprints.decode import decode
    works, fps = catalog()
    matcher = LandmarkMatcher.build(fps.items())
    registered = [w for w in works if w.split == "registered"]
    chroma = AudioMatcher.build((w.number, cp.fingerprint(decode(bench.wav_bytes(bench.read(w)), sample_rate=cp.SAMPLE_RATE, max_seconds=900)).codes)
                                for w in registered)
    long_tracks = [w for w in works if w.seconds >= 180][:20]
    rows = defaultdict(list)
    for w in long_tracks:
        data = bench.mp3(bench.read(w, 0.0, 180.0), "128k")
        for _ in range(2):
            t0 = time.process_time()
            audio = decode(data, sample_rate=SAMPLE_RATE, max_seconds=900)
            t1 = time.process_time()
            codes = cp.fingerprint(audio).codes
            t2 = time.process_time()
            chroma.match(codes)
            t3 = time.process_time()
            fp = fingerprint(audio.samples)
            t4 = time.process_time()
            matcher.match(fp)
            t5 = time.process_time()
        for k, v in (("decode (PyAV, 11,025 Hz)", t1 - t0), ("chromaprint fingerprint", t2 - t1), ("chromaprint match", t3 - t2),
                     ("landmark fingerprint", t4 - t3), ("landmark match", t5 - t4), ("landmark fingerprint + match", t5 - t3),
                     ("whole screening", t5 - t0)):
            rows[("3 min", k)].append(v)
    for w in registered[:40]:
        s = 0.5 * (w.seconds - 10)
        data = bench.wav_bytes(bench.read(w, s, 10.0))
        audio = decode(data, sample_rate=SAMPLE_RATE, max_seconds=900)
        t3 = time.process_time()
        fp = fingerprint(audio.samples)
        t4 = time.process_time()
        probes = query_constellations(fp)
        matcher.index.candidates(probes)
        t5 = time.process_time()
        matcher.match(fp)
        t6 = time.process_time()
        for k, v in (("landmark fingerprint", t4 - t3), ("landmark candidates (probe keys + search)", t5 - t4), ("landmark match", t6 - t5)):
            rows[("10 s", k)].append(v)
    table = [{"query": q, "stage": k, "n": len(v), "p50_ms": round(1000 * float(np.median(v)), 1),
              "p95_ms": round(1000 * float(np.quantile(v, 0.95)), 1)} for (q, k), v in rows.items()]
    _save("timing", {"table": table})
    _print_table(table)


def step_memory() -> None:
    works, fps = catalog()
    matcher = LandmarkMatcher.build(fps.items())
    hours = sum(fp.duration for fp in fps.values()) / 3600
    peaks = sum(len(fp.peaks) for fp in fps.values())
    index_bytes = matcher.index.memory_bytes()
    postings = matcher.index.size
    directory = sum(s.directory.nbytes for s in matcher.index._segments)
    per_posting = (index_bytes - directory) / postings
    at_scale = {}
    for h in (500, 5000):
        n = postings / hours * h
        bits = math.ceil(math.log2(n)) - 3
        at_scale[f"{h} h"] = round((n * per_posting + (2 ** bits + 1) * 4 + peaks / hours * h * 4) / h / 2 ** 20, 3)
    row = {"hours": round(hours, 3), "works": len(fps), "peaks_per_s": round(peaks / hours / 3600, 2),
           "postings_per_s": round(postings / hours / 3600, 2), "index_MiB_per_h": round(index_bytes / hours / 2 ** 20, 3),
           "fingerprints_MiB_per_h": round(peaks * 4 / hours / 2 ** 20, 3),
           "total_MiB_per_h": round(matcher.memory_bytes() / hours / 2 ** 20, 3),
           "directory_MiB_fixed": round(directory / 2 ** 20, 3),
           "projected_total_MiB_per_h_at": at_scale,
           "serialised_fingerprint_bytes_per_s": round(sum(len(fp.to_bytes()) for fp in fps.values()) / hours / 3600, 1)}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "index.npz"
        t0 = time.process_time()
        matcher.save(path)
        t1 = time.process_time()
        again = LandmarkMatcher.load(path, fps.items())
        t2 = time.process_time()
        row.update(index_file_MiB=round(path.stat().st_size / 2 ** 20, 2), save_s=round(t1 - t0, 3), load_s=round(t2 - t1, 3))
        t0 = time.process_time()
        LandmarkMatcher.build(fps.items())
        row["build_s"] = round(time.process_time() - t0, 2)
        row["reloaded_same_size"] = again.index.size == matcher.index.size
    _save("memory", row)
    print(json.dumps(row, indent=1))


def step_scale(hours_list=(500, 5000)) -> None:
    """Candidate search over a synthetic catalog plus the real one.

    Synthetic postings: keys uniform over 1/c values, where c is the rate at which a lookup of an
    unrelated real query hits a real posting (measured here), so a lookup returns as many postings on
    average as it would in a real catalog of that size; positions uniform over the frame line, which is
    cut into 3-minute synthetic works. The real catalog is added after it, so real queries can also say
    whether their work still reaches the candidates among that many random postings.
    """
    works, fps = catalog()
    registered = [w for w in works if w.split == "registered"]
    real = LandmarkMatcher.build(fps.items())
    hours_real = sum(fp.duration for fp in fps.values()) / 3600
    rate = real.index.size / hours_real / 3600
    unregistered = [w for w in works if w.split == "unregistered"]
    lookups = hits = 0
    for w in unregistered[:30]:
        for s in (0.2, 0.6):
            q = query_constellations(fingerprint(bench.decoded(bench.wav_bytes(bench.read(w, s * (w.seconds - 10), 10.0)))))
            rows, _ = real.index._lookup(q.keys)
            lookups += len(q)
            hits += len(rows)
    c = hits / lookups / real.index.size
    distinct = int(round(1 / c))
    backgrounds = [w for w in works if w.split == "unregistered"]
    numbers = {w.name: w.number for w in works}
    probe_sets = []
    for q in excerpt_queries(registered[::2], backgrounds, ["clean", "pitch +2 st", "tempo -10%", "mixed, other music at 0 dB"]):
        probe_sets.append((q, query_constellations(bench.query_fingerprint(q))))
    long = [query_constellations(fingerprint(bench.decoded(bench.wav_bytes(bench.read(w, 0, 180.0)))))
            for w in works if w.seconds >= 180][:10]
    out = {"collision_rate_per_lookup_per_posting": c, "log2_inverse": round(math.log2(1 / c), 2),
           "postings_per_s": round(rate, 2), "results": []}
    for hours in hours_list:
        n = int(rate * hours * 3600)
        t0 = time.time()
        segment = synthetic_segment(n, distinct, int(hours * 3600 / FRAME_S), np.random.default_rng(hours))
        build_s = time.time() - t0
        work_frames = int(180 / FRAME_S)
        synthetic_works = {-(i + 1): (FIRST_BASE + i * work_frames, work_frames)
                           for i in range(int(hours * 3600 / FRAME_S) // work_frames + 1)}
        index = LandmarkIndex([segment], synthetic_works, FIRST_BASE + len(synthetic_works) * work_frames + 1)
        index.add_many([(num, reference_constellations(fp), int(fp.frames[-1]) + 1) for num, fp in fps.items()])
        ten, three, found = [], [], defaultdict(list)
        for q, probes in probe_sets:
            t1 = time.process_time()
            cands = index.candidates(probes)
            ten.append(time.process_time() - t1)
            right = numbers[q.pieces[0].work]
            found[q.condition].append(any(c.work_number == right for c in cands))
        for probes in long:
            t1 = time.process_time()
            index.candidates(probes)
            three.append(time.process_time() - t1)
        res = {"hours": hours, "postings": n + real.index.size, "index_GiB": round(index.memory_bytes() / 2 ** 30, 2),
               "build_s": round(build_s, 1),
               "search_10s_p50_ms": round(1000 * float(np.median(ten)), 1), "search_10s_p95_ms": round(1000 * float(np.quantile(ten, 0.95)), 1),
               "search_3min_p50_ms": round(1000 * float(np.median(three)), 1), "search_3min_p95_ms": round(1000 * float(np.quantile(three, 0.95)), 1),
               "candidate_recall": {k: round(float(np.mean(v)), 3) for k, v in found.items()},
               "max_rss_GiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)}
        out["results"].append(res)
        print(json.dumps(res))
        del index, segment
    _save("scale", out)


def synthetic_segment(n: int, distinct: int, frames: int, rng: np.random.Generator) -> _Segment:
    """A segment of n postings whose keys take `distinct` values (mixed into 32 bits) with Poisson counts."""
    values = np.unique(((np.arange(distinct, dtype=np.uint64) + np.uint64(0x5BD1E995)) * np.uint64(0x9E3779B97F4A7C15)
                        >> np.uint64(32)).astype(np.uint32))
    counts = rng.poisson(n / len(values), len(values)).astype(np.int64)
    bits = directory_bits(int(counts.sum()))
    buckets = np.bincount((values >> np.uint32(32 - bits)).astype(np.int64), weights=counts, minlength=1 << bits).astype(np.int64)
    directory = np.zeros((1 << bits) + 1, dtype=np.uint32)
    np.cumsum(buckets, out=directory[1:])
    residues = np.repeat((values & np.uint32(0xFFFF)).astype(np.uint16), counts)
    positions = rng.integers(FIRST_BASE, FIRST_BASE + frames, len(residues), dtype=np.uint32)
    return _Segment(directory, residues, positions)


def _save(step: str, data) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{step}.json").write_text(json.dumps(data, indent=1, default=float))




# ---------------------------------------------------------------- design comparisons

LAB_TRACKS = ["AmbientBattle", "Bleostrada", "HellFortressEntrance", "HellFortressTwo", "Hyperbattle", "ImperialArmy",
              "NewTutorialStage", "TechBattle", "TheBeginning", "hellforce", "menu", "town"]
LAB_QUERY_TRACKS = LAB_TRACKS[1:7]
LAB_UNRELATED = ["Ambience", "Suspicion", "temple", "underground"]
LAB_CONDITIONS = ["clean", "pitch +1 st", "pitch -2 st", "tempo +10%", "tempo -10%", "speed +5%", "speed -3%",
                  "mixed, other music at 0 dB", "white noise 10 dB SNR"]


def lab_peaks(frame: int = 2048, ridge: bool = True) -> dict:
    """Peaks of 12 real tracks (references), of 3 transformed 10 s excerpts of 6 of them, and of 10 s windows of
    4 unrelated real tracks, with the given spectrum frame and ridge suppression on or off."""
    import landmarks.peaks as P
    import landmarks.spectrum as S
    saved = (S.FRAME, P.RIDGE_FRAMES)
    S.FRAME = frame
    S._window.cache_clear()
    S._filterbank.cache_clear()
    P.RIDGE_FRAMES = P.RIDGE_FRAMES if ridge else 0
    try:
        works = {w.name: w for w in bench.works()}
        peaks = lambda data: (lambda fp: (fp.frames, fp.bins))(fingerprint(bench.decoded(data)))
        refs = {n: peaks(bench.wav_bytes(bench.read(works[n]))) for n in LAB_TRACKS}
        rng = np.random.default_rng(0)
        backgrounds = [works[n] for n in LAB_UNRELATED]
        queries = []
        for n in LAB_QUERY_TRACKS:
            for start in (20.0, 60.0, 95.0):
                x = bench.read(works[n], start, 10.0)
                for c in LAB_CONDITIONS:
                    _, _, pitch, tempo = CONDITIONS[c]
                    queries.append(dict(work=n, start=start, condition=c, pitch=pitch, tempo=tempo,
                                        peaks=peaks(transform(x, c, rng, backgrounds))))
        unrelated = [peaks(bench.wav_bytes(bench.read(w, s, 10.0))) for w in backgrounds for s in np.arange(0, w.seconds - 10, 10.0)]
        return {"refs": refs, "queries": queries, "unrelated": unrelated}
    finally:
        S.FRAME, P.RIDGE_FRAMES = saved
        S._window.cache_clear()
        S._filterbank.cache_clear()


def lab_keys(frames: np.ndarray, bins: np.ndarray, cfg: dict, query: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys (with query probes) of a configurable constellation hash; returns keys, anchor frames, anchor bins."""
    targets = cfg["points"] - 1
    saved = (H.TARGETS, H.REFERENCE_CHOICES, H.QUERY_CHOICES)
    H.TARGETS, H.REFERENCE_CHOICES, H.QUERY_CHOICES = targets, cfg["reference_choices"], cfg["query_choices"]
    H._combinations.cache_clear()
    try:
        rows = H._constellations(frames, bins, H.QUERY_CHOICES if query else H.REFERENCE_CHOICES, len(frames))
    finally:
        H.TARGETS, H.REFERENCE_CHOICES, H.QUERY_CHOICES = saved
        H._combinations.cache_clear()
    anchor = rows[:, 0]
    span = (frames[rows[:, -1]] - frames[anchor]).astype(np.float64)
    fields = []
    for k in range(1, targets + 1):
        fields.append((H._DIFF_RADIX, H._rounded(bins[rows[:, k]] - bins[anchor], H.ZONE_BINS + 1, query)))
    for k in range(1, targets):
        fields.append((H.RATIO_LEVELS, H._levels((frames[rows[:, k]] - frames[anchor]) / span * H.RATIO_LEVELS, query)))
    if cfg.get("band"):
        band = bins[anchor] / H.BAND_BINS
        reach = H.PITCH_RANGE_BINS / H.BAND_BINS if query else 0.0
        fields.append((H._BANDS, H._classes(band, band - reach, band + reach, H._BANDS)))
    if cfg.get("duration_class"):
        octaves = np.log2(span) / 0.5
        reach = (np.log2(1.12) + np.log2((span + 1) / span)) / 0.5 if query else 0.0
        fields.append((16, H._classes(octaves, octaves - reach, octaves + reach, 16)))
    composite = np.zeros(len(rows), dtype=np.uint64)
    source = np.arange(len(rows))
    for radix, variants in fields:
        pc, ps = [], []
        for values, mask in variants:
            chosen = mask[source]
            pc.append(composite[chosen] * np.uint64(radix) + values[source[chosen]].astype(np.uint64))
            ps.append(source[chosen])
        composite, source = np.concatenate(pc), np.concatenate(ps)
    return composite, frames[anchor][source], bins[anchor][source]


def lab_evaluate(lab: dict, cfg: dict) -> dict:
    """Reference keys a second, query lookups a second, collision rate between unrelated music, the random postings
    a 10 s query would meet in 5,000 hours, and per condition the share of reference constellations found."""
    refs, total, seconds = {}, 0, 0.0
    for name, (f, b) in lab["refs"].items():
        keys, af, ab = lab_keys(f, b, cfg, False)
        refs[name] = (keys, af, ab)
        total += len(keys)
        seconds += (f[-1] + 1) * FRAME_S
    every = np.sort(np.concatenate([k for k, _, _ in refs.values()]))
    recall, hits10, lookups = defaultdict(list), defaultdict(list), []
    for q in lab["queries"]:
        qk, qf, qb = lab_keys(*q["peaks"], cfg, True)
        if q["condition"] == "clean":
            lookups.append(len(qk) / 10.0)
        rk, rf, rb = refs[q["work"]]
        inside = (rf * FRAME_S >= q["start"] + 0.5) & (rf * FRAME_S < q["start"] + 8.5)
        expect_f = (rf[inside] * FRAME_S - q["start"]) / q["tempo"] / FRAME_S
        expect_b = rb[inside] + q["pitch"] * 3
        order = np.argsort(qk)
        sk = qk[order]
        lo = np.searchsorted(sk, rk[inside], "left")
        hi = np.searchsorted(sk, rk[inside], "right")
        found = 0
        for i in np.flatnonzero(hi > lo):
            rows = order[lo[i]:hi[i]]
            if np.any((np.abs(qf[rows] - expect_f[i]) <= 2) & (np.abs(qb[rows] - expect_b[i]) <= 1.5)):
                found += 1
        recall[q["condition"]].append(found / max(1, int(inside.sum())))
        hits10[q["condition"]].append(found)
    random = looked = 0
    for f, b in lab["unrelated"]:
        qk, _, _ = lab_keys(f, b, cfg, True)
        random += int((np.searchsorted(every, qk, "right") - np.searchsorted(every, qk, "left")).sum())
        looked += len(qk)
    c = random / looked / total
    per_s, look_s = total / seconds, float(np.mean(lookups))
    return {"config": cfg, "reference_keys_per_s": round(per_s, 1), "query_lookups_per_s": round(look_s),
            "collision_bits": round(-math.log2(c), 1) if c > 0 else None,
            "random_postings_per_10s_query_at_5000h": int(10 * look_s * c * per_s * 5000 * 3600),
            "recall": {k: round(float(np.mean(v)), 3) for k, v in recall.items()},
            "true_hits_10th_percentile": {k: int(np.quantile(v, 0.1)) for k, v in hits10.items()}}


def step_hashes() -> None:
    configs = [
        {"name": "Panako-style triplets", "points": 3, "reference_choices": 4, "query_choices": 8},
        {"name": "triplets + anchor band", "points": 3, "reference_choices": 4, "query_choices": 8, "band": True},
        {"name": "triplets + band + duration class", "points": 3, "reference_choices": 4, "query_choices": 8, "band": True, "duration_class": True},
        {"name": "four points", "points": 4, "reference_choices": 4, "query_choices": 6},
        {"name": "four points + anchor band (chosen)", "points": 4, "reference_choices": 4, "query_choices": 6, "band": True},
        {"name": "four points + band + duration class", "points": 4, "reference_choices": 4, "query_choices": 6, "band": True, "duration_class": True},
        {"name": "four points + band, query picks 4 (= reference)", "points": 4, "reference_choices": 4, "query_choices": 4, "band": True},
        {"name": "five points + band", "points": 5, "reference_choices": 5, "query_choices": 6, "band": True},
    ]
    out = []
    variants = [("2048-sample frame, ridges suppressed (chosen)", 2048, True),
                ("2048-sample frame, ridges kept", 2048, False),
                ("1024-sample frame, ridges suppressed", 1024, True)]
    for label, frame, ridge in variants:
        lab = lab_peaks(frame, ridge)
        survive = peak_survival(lab)
        chosen = configs if label.endswith("(chosen)") else [c for c in configs if c["name"] in ("Panako-style triplets", "four points + anchor band (chosen)")]
        for cfg in chosen:
            row = lab_evaluate(lab, {k: v for k, v in cfg.items() if k != "name"})
            row.update(peaks=label, hash=cfg["name"], peak_survival=survive)
            out.append(row)
            print(json.dumps(row))
    _save("hashes", out)


def peak_survival(lab: dict) -> dict:
    """Share of reference peaks inside each excerpt that reappear in the transformed query within
    1.5 frames and 1 bin of where the transformation puts them."""
    out = defaultdict(list)
    for q in lab["queries"]:
        rf, rb = lab["refs"][q["work"]]
        qf, qb = q["peaks"]
        inside = (rf * FRAME_S >= q["start"] + 0.3) & (rf * FRAME_S < q["start"] + 9.7)
        ef = (rf[inside] * FRAME_S - q["start"]) / q["tempo"] / FRAME_S
        eb = rb[inside] + q["pitch"] * 3
        codes = np.sort(qf * 1024 + np.round(qb).astype(np.int64))
        hit = np.zeros(len(ef), dtype=bool)
        for dt in (-1, 0, 1):
            for db in (-1, 0, 1):
                c = (np.round(ef).astype(np.int64) + dt) * 1024 + np.round(eb).astype(np.int64) + db
                pos = np.minimum(np.searchsorted(codes, c), len(codes) - 1)
                hit |= codes[pos] == c
        out[q["condition"]].append(float(hit.mean()) if len(hit) else 0.0)
    return {k: round(float(np.mean(v)), 3) for k, v in out.items()}


def step_chromaprint() -> None:
    """The service's current Chromaprint pipeline on the very same 10 s queries (same seeds), judged alike."""
    from fingerprints import AudioMatcher
    from fingerprints import chromaprint as cp
    works, _ = catalog()
    registered = [w for w in works if w.split == "registered"]
    backgrounds = [w for w in works if w.split == "unregistered"]
    numbers = {w.name: w.number for w in works}
    chroma = AudioMatcher.build((w.number, cp.fingerprint(bench.decode(bench.wav_bytes(bench.read(w)), sample_rate=cp.SAMPLE_RATE,
                                                                       max_seconds=900)).codes) for w in registered)
    results, crashes = [], defaultdict(int)
    for q in excerpt_queries(registered, backgrounds, list(CONDITIONS)):
        codes = cp.fingerprint(bench.decode(q.data, sample_rate=cp.SAMPLE_RATE, max_seconds=900)).codes
        try:
            matches = chroma.match(codes)
        except ValueError:
            # fingerprints/verify.py _stretches: np.convolve(mode="same") returns SMOOTHING_FRAMES values when a
            # candidate overlaps the query by fewer codes, and the mask no longer broadcasts (a bug in the service)
            crashes[q.condition] += 1
            matches = []
        verdict = bench.judge(q, matches, numbers)
        verdict.update(name=q.name, condition=q.condition)
        results.append(verdict)
    table = [{**{k: row[k] for k in ("condition", "fragments", "detected", "rate", "wrong_work_matches")},
              "verify_crashes": crashes[row["condition"]]} for row in _detection_table(results)]
    _save("chromaprint", {"table": table})
    _print_table(table)


def step_faiss() -> None:
    """FAISS binary indexes against the inverted index, on the real catalog's keys as 32-bit binary codes:
    bytes per posting (serialised) and CPU time to find every exact match of 10 s queries' probe keys."""
    import faiss
    works, fps = catalog()
    keys, ids = [], []
    for number, fp in fps.items():
        c = reference_constellations(fp)
        keys.append(c.keys)
        ids.append((np.int64(number) << 32) | c.frames)
    keys, ids = np.concatenate(keys), np.concatenate(ids)
    codes = keys.astype("<u4").view(np.uint8).reshape(-1, 4)
    registered = [w for w in works if w.split == "registered"]
    probes = [query_constellations(fingerprint(bench.decoded(bench.wav_bytes(bench.read(w, 0.5 * (w.seconds - 10), 10.0))))).keys
              for w in registered[:20]]
    ours = LandmarkMatcher.build(fps.items()).index
    rows = []

    def timed(search) -> float:
        t = []
        for p in probes:
            t0 = time.process_time()
            search(p)
            t.append(time.process_time() - t0)
        return round(1000 * float(np.median(t)), 1)

    rows.append({"index": "inverted index (landmarks.index)", "bytes_per_posting": round(ours.memory_bytes() / len(keys), 2),
                 "query_ms_p50": timed(ours._lookup)})
    for b in (16, 24):
        index = faiss.IndexBinaryHash(32, b)
        index.add_with_ids(codes, ids)
        size = len(faiss.serialize_index_binary(index))
        q = lambda p: index.range_search(p.astype("<u4").view(np.uint8).reshape(-1, 4), 1)
        rows.append({"index": f"faiss.IndexBinaryHash(32 bits, b={b})", "bytes_per_posting": round(size / len(keys), 2), "query_ms_p50": timed(q)})
    nlist = 4096
    quantizer = faiss.IndexBinaryFlat(32)
    ivf = faiss.IndexBinaryIVF(quantizer, 32, nlist)
    ivf.train(codes[np.random.default_rng(0).choice(len(codes), 40 * nlist, replace=False)])
    ivf.add_with_ids(codes, ids)
    ivf.nprobe = 1
    size = len(faiss.serialize_index_binary(ivf))
    q = lambda p: ivf.range_search(p.astype("<u4").view(np.uint8).reshape(-1, 4), 1)
    rows.append({"index": f"faiss.IndexBinaryIVF(32 bits, nlist={nlist}, nprobe=1)", "bytes_per_posting": round(size / len(keys), 2), "query_ms_p50": timed(q)})
    _save("faiss", {"postings": int(len(keys)), "table": rows})
    _print_table(rows)


def step_ridges() -> None:
    """Why held-note peaks are dropped: the best evidence unrelated music reaches (calibration split,
    10 s windows every 10 s, against the registered catalog) and the evidence of true transformed
    excerpts, with ridge suppression on and off."""
    import landmarks.peaks as P
    works = bench.works()
    registered = [w for w in works if w.split == "registered"]
    calibration = [w for w in works if w.split == "calibration"]
    backgrounds = [w for w in works if w.split == "unregistered"]
    numbers = {w.name: w.number for w in works}
    from landmarks.verify import Stretch
    out = []
    for ridge in (P.RIDGE_FRAMES, 0):
        saved, P.RIDGE_FRAMES = P.RIDGE_FRAMES, ridge
        try:
            fps = {w.number: fingerprint(bench.decoded(bench.wav_bytes(bench.read(w)))) for w in registered}
            matcher = LandmarkMatcher.build(fps.items())
            null = []
            for w in calibration:
                own = {numbers[bench.TWINS[w.name]]} if w.name in bench.TWINS else set()
                for s in np.arange(0.0, max(w.seconds - 10.0, 0.0) + 1e-9, 10.0):
                    examined = matcher.examine(fingerprint(bench.decoded(bench.wav_bytes(bench.read(w, s, 10.0)))))
                    null.append(max([_evidence(m) for m in examined if m.work_number not in own], default=0.0))
            true = []
            for q in excerpt_queries(registered[::4], backgrounds, ["pitch -2 st", "tempo +10%", "mixed, other music at 0 dB"]):
                right = {numbers[q.pieces[0].work]} | ({numbers[bench.TWINS[q.pieces[0].work]]} if q.pieces[0].work in bench.TWINS else set())
                examined = matcher.examine(bench.query_fingerprint(q))
                true.append(max([_evidence(m) for m in examined if m.work_number in right], default=0.0))
            hours = sum(fp.duration for fp in fps.values()) / 3600
            row = {"ridge_frames": ridge, "peaks_per_s": round(sum(len(f.peaks) for f in fps.values()) / hours / 3600, 1),
                   "postings_per_s": round(matcher.index.size / hours / 3600, 1),
                   "null_queries": len(null), "null_best_evidence_q99": round(float(np.quantile(null, 0.99)), 1),
                   "null_best_evidence_max": round(float(np.max(null)), 1),
                   "true_queries": len(true), "true_evidence_q10": round(float(np.quantile(true, 0.1)), 1),
                   "true_evidence_median": round(float(np.median(true)), 1)}
        finally:
            P.RIDGE_FRAMES = saved
        out.append(row)
        print(json.dumps(row))
    _save("ridges", out)


if __name__ == "__main__":
    steps = {"calibrate": step_calibrate, "detect": step_detect, "fp": step_fp, "timing": step_timing,
             "memory": step_memory, "scale": step_scale, "hashes": step_hashes, "chromaprint": step_chromaprint,
             "faiss": step_faiss, "ridges": step_ridges}
    name = sys.argv[1]
    if name == "detect" and len(sys.argv) > 2:
        step_detect(sys.argv[2:])
    else:
        steps[name]()
