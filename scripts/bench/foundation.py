"""Foundation benchmark: screening latency over gRPC, import throughput against fpcalc, index memory per
hour of reference, candidate-search latency at 500 / 5,000 / 50,000 hours, and detection / false
positives of excerpts under everyday transformations.

Real produced music: the Ogg soundtracks of Debian's freedroidrpg-data. Rendered music: pieces of
music21's corpus written to MIDI and rendered with FluidSynth and the FluidR3 GM soundfont. Nothing is
downloaded. Prints the figures and writes them to docs/benchmarks.md (section `foundation`).

Run: scripts/bench/run [--quick]   (or .venv/bin/python scripts/bench/foundation.py [--quick])
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import io
import json
import logging
import math
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import guard  # noqa: E402,F401 - first: the service's thread defaults (guard/__init__.py) before numpy and FAISS load

# isort: split
import numpy as np  # noqa: E402

import fingerprints  # noqa: E402
from fingerprints.chromaprint import CODE_SPAN_S, FRAME_HOP_S, SAMPLE_RATE  # noqa: E402
from fingerprints.index import Candidate  # noqa: E402
from fingerprints.verify import (  # noqa: E402
    MATCH_FRAME_BER,
    MAX_FALSE_MATCH,
    NULL_MODEL,
    SMOOTHING_FRAMES,
    NullModel,
    informative,
    verify,
)

NULL_MODELS = {
    "previous": NullModel(mean=0.492, sd_24=0.0817, decay=0.198),
    "fitted": NullModel(mean=0.4913, sd_24=0.0472, decay=0.269),
}
"""Null models compared on the negatives: the one verify.py shipped until the calibration, and the one
scripts/bench/calibrate_chromaprint.py fitted (docs/benchmarks.md, section calibrate_chromaprint)."""
P_LEVELS = (1e-1, 1e-2, 1e-3, 1e-4)

MUSIC_DIR = Path("/usr/share/freedroidrpg/data/sound/music")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PCM_RATE = 44_100
SIBLING_GROUPS = (
    frozenset({"AmbientBattle", "TechBattle"}),
    frozenset({"HellFortressEntrance", "HellFortressTwo"}),
)
"""Tracks of freedroidrpg-data that share audio: AmbientBattle/TechBattle (same length, one contains the
other's material, as the brief said) and HellFortressEntrance/HellFortressTwo (found by this benchmark's
cross-screening: their first ~31 s are the same recording). A match inside a group is correct."""
UNREGISTERED_REAL = ("Bleostrada", "Suspicion", "town", "hellforce")

# (corpus path, General MIDI program for every part); the programs vary the timbre between pieces.
RENDER_REGISTERED = (
    ("mozart/k155/movement1.mxl", 0),
    ("beethoven/opus18no1/movement2.mxl", 48),
    ("schumann_robert/opus41no1/movement2.mxl", 6),
    ("haydn/opus1no1/movement1.mxl", 24),
    ("haydn/opus1no1/movement4.mxl", 73),
)
RENDER_UNREGISTERED = (
    ("haydn/opus74no1/movement1.mxl", 48),
    ("haydn/opus74no1/movement2.mxl", 0),
    ("mozart/k156/movement4.mxl", 73),
    ("mozart/k458/movement4.mxl", 11),
    ("beethoven/opus18no1/movement1.mxl", 0),
    ("beethoven/opus18no1/movement3.mxl", 73),
    ("beethoven/opus18no1/movement4.mxl", 48),
    ("schumann_robert/opus41no1/movement1.mxl", 0),
    ("schumann_robert/opus41no1/movement3.mxl", 40),
    ("schumann_robert/opus41no1/movement4.mxl", 68),
    ("schumann_robert/opus41no1/movement5.mxl", 6),
    ("mozart/k155/movement2.mxl", 6),
    ("mozart/k155/movement3.mxl", 24),
    ("mozart/k156/movement2.mxl", 0),
    ("mozart/k156/movement3.mxl", 19),
    ("haydn/opus1no1/movement2.mxl", 48),
    ("haydn/opus1no1/movement3.mxl", 11),
    ("joplin/maple_leaf_rag.mxl", 0),
    ("schubert/Lindenbaum.xml", 24),
    ("verdi/laDonnaEMobile.mxl", 11),
    ("weber/concertino_clarinet.mxl", 0),
    ("handel/rinaldo/Lascia_chio_pianga.mxl", 52),
    ("cpebach/h186.mxl", 6),
    ("corelli/opus3no1/1grave.xml", 48),
    ("liliuokalani/aloha_oe.mxl", 24),
    # More unregistered music for the false-positive bound (3,000+ non-overlapping 10 s windows, with the
    # Palestrina and Monteverdi below): the remaining quartet movements of Mozart and Haydn and Clara Schumann's
    # pieces, never in another format of a piece already listed (the corpus has some as both .mxl and .krn).
    # Not Beethoven's other quartets: music21 took over 10 minutes to write opus18no4 as MIDI on this machine.
    ("mozart/k156/movement1.mxl", 24),
    ("mozart/k458/movement1.mxl", 68),
    ("mozart/k458/movement2.mxl", 40),
    ("mozart/k458/movement3.mxl", 6),
    ("mozart/k80/movement1.mxl", 19),
    ("mozart/k80/movement2.mxl", 73),
    ("mozart/k80/movement3.mxl", 52),
    ("mozart/k80/movement4.mxl", 11),
    ("haydn/opus1no1/movement5.mxl", 68),
    ("haydn/opus74no1/movement3.mxl", 24),
    ("haydn/opus74no1/movement4.mxl", 6),
    ("schumann_clara/opus17/movement3.xml", 40),
    ("schumann_clara/polonaise_op1n1.mxl", 0),
    ("schumann_clara/polonaise_op1n2.mxl", 11),
    ("schumann_clara/polonaise_op1n3.mxl", 24),
    ("schumann_clara/polonaise_op1n4.mxl", 6),
)
CHORALE_PROGRAMS = (0, 19, 52, 48, 6, 73, 24, 68, 11, 40)
CONDITIONS = (
    ("clean", "the excerpt as 16-bit WAV"),
    ("mp3_64k", "MP3 at 64 kbit/s CBR (`ffmpeg -c:a libmp3lame -b:a 64k`)"),
    ("lowpass_3k", "`sox lowpass 3000`"),
    ("eq", "`sox -G bass +6 treble -6` (bass and treble shelves, guarded against clipping)"),
    ("noise_10db", "white Gaussian noise at 10 dB SNR (noise power = excerpt power / 10)"),
    ("gain_-10db", "-10 dB"),
    ("gain_+6db_limited", "+6 dB through sox's limiter (`sox gain -l 6`)"),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def mem_available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def run(cmd: list[str], *, data: bytes | None = None, timeout: float = 300) -> bytes:
    return subprocess.run(cmd, input=data, capture_output=True, check=True, timeout=timeout).stdout


# ---------------------------------------------------------------------------------------------- material


@dataclass
class Source:
    """One piece of music: a real soundtrack or a rendered corpus piece."""

    name: str
    kind: str  # "real" | "rendered"
    path: Path  # what is registered / screened: the Ogg for real music, Ogg (registered) or WAV (unregistered) for rendered
    registered: bool
    seconds: float = 0.0
    number: int = 0  # work number in the in-process matcher (registered only)
    detail: str = ""

    @property
    def group(self) -> frozenset[str]:
        for g in SIBLING_GROUPS:
            if self.name in g:
                return g
        return frozenset({self.name})


def real_sources() -> list[Source]:
    files = sorted(MUSIC_DIR.glob("*.ogg"))
    if len(files) != 16:
        raise SystemExit(f"expected the 16 Ogg tracks of freedroidrpg-data in {MUSIC_DIR}, found {len(files)}")
    return [Source(f.stem, "real", f, f.stem not in UNREGISTERED_REAL) for f in files]


def _limit_output_file() -> None:
    # A few corpus MIDI files make FluidSynth render forever (one wrote 30 GB); cap the WAV at 200 MB.
    resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024 * 1024, 200 * 1024 * 1024))


def _render_midi(mid: Path, wav: Path, ogg: Path | None) -> str | None:
    try:
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-F", str(wav), "-r", str(PCM_RATE), str(SOUNDFONT),
                        str(mid)], capture_output=True, check=True, timeout=120, preexec_fn=_limit_output_file)
    except subprocess.TimeoutExpired:
        wav.unlink(missing_ok=True)
        return "fluidsynth did not finish within 120 s"
    except subprocess.CalledProcessError as exc:
        wav.unlink(missing_ok=True)
        if exc.returncode == -25:
            return "fluidsynth kept rendering past the 200 MB output cap (SIGXFSZ)"
        tail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        return f"fluidsynth exit {exc.returncode}{': ' + tail[0] if tail else ''}"
    if ogg is not None:
        run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libvorbis", "-q:a", "5", str(ogg)])
        wav.unlink()
    return None


def _prepare_score(score, program: int):
    from music21 import instrument

    for part in score.parts:
        for inst in list(part.recurse().getElementsByClass(instrument.Instrument)):
            site = inst.activeSite
            if site is not None:
                site.remove(inst)
        part.insert(0, instrument.instrumentFromMidiProgram(program))
    return score


def _melody_signature(score) -> tuple[int, ...]:
    notes = [n for n in score.parts[0].flatten().notes if n.isNote]
    pitches = [n.pitch.midi for n in notes[:13]]
    return tuple(b - a for a, b in zip(pitches, pitches[1:]))


def rendered_sources(folder: Path, quick: bool) -> tuple[list[Source], list[str]]:
    """Render corpus pieces (MIDI -> FluidSynth WAV). Registered ones are encoded to Ogg Vorbis like a release."""
    import warnings

    from music21 import corpus

    warnings.filterwarnings("ignore")
    folder.mkdir(parents=True, exist_ok=True)
    registered = list(RENDER_REGISTERED[:2] if quick else RENDER_REGISTERED)
    unregistered = list(RENDER_UNREGISTERED[:3] if quick else RENDER_UNREGISTERED)
    chorales_registered, chorales_unregistered = (2, 6) if quick else (6, 60)
    palestrina_unregistered = 4 if quick else 100
    monteverdi_unregistered = 2 if quick else 49

    skipped: list[str] = []
    pool = cf.ThreadPoolExecutor(max_workers=2)
    futures = []

    def submit(name: str, detail: str, score, program: int, is_registered: bool) -> bool:
        mid = folder / f"{name}.mid"
        try:
            _prepare_score(score, program).write("midi", fp=str(mid))
        except Exception as exc:  # a score music21 cannot write as MIDI is skipped, and said so
            skipped.append(f"{detail} (music21 MIDI: {type(exc).__name__})")
            return False
        wav = folder / f"{name}.wav"
        ogg = folder / f"{name}.ogg" if is_registered else None
        futures.append((name, detail, is_registered, wav, ogg, pool.submit(_render_midi, mid, wav, ogg)))
        return True

    for role, pieces in ((True, registered), (False, unregistered)):
        for path, program in pieces:
            name = "m21-" + re.sub(r"[^A-Za-z0-9]+", "-", path.rsplit(".", 1)[0]).strip("-")
            try:
                score = corpus.parse(path)
            except Exception as exc:  # a corpus file music21 cannot read is skipped, and said so
                skipped.append(f"{path} (music21: {type(exc).__name__})")
                continue
            submit(name, f"{path}, GM program {program}", score, program, role)

    # Bach chorales with distinct melodies (many chorales re-harmonise one tune; those would be near-duplicates).
    seen: set[tuple[int, ...]] = set()
    wanted = chorales_registered + chorales_unregistered
    taken = 0
    paths = sorted((p for p in corpus.getComposer("bach") if p.name.startswith("bwv") and p.suffix == ".mxl"),
                   key=lambda p: p.name)
    for p in paths:
        if taken == wanted:
            break
        try:
            score = corpus.parse(p)
            if len(score.parts) != 4:
                continue
            signature = _melody_signature(score)
            seconds = float(score.highestTime) * 0.5  # music21 writes 120 quarter notes per minute by default
        except Exception:
            continue
        if len(signature) < 12 or signature in seen or not 25 <= seconds <= 150:
            continue
        seen.add(signature)
        is_registered = taken < chorales_registered
        program = CHORALE_PROGRAMS[taken % len(CHORALE_PROGRAMS)]
        if submit(f"m21-bach-{p.stem}", f"bach/{p.name}, GM program {program}", score, program, is_registered):
            taken += 1

    # Palestrina mass movements, one per mass (movements of one mass share material), all unregistered.
    masses: set[str] = set()
    taken = 0
    for p in sorted(corpus.getComposer("palestrina"), key=lambda p: p.name):
        if taken == palestrina_unregistered:
            break
        mass = re.search(r"_(\d+)", p.stem)
        if mass is None or mass.group(1) in masses:
            continue
        try:
            score = corpus.parse(p)
            seconds = float(score.highestTime) * 0.5
        except Exception:
            continue
        if not 60 <= seconds <= 400:
            continue
        masses.add(mass.group(1))
        program = CHORALE_PROGRAMS[(taken + 3) % len(CHORALE_PROGRAMS)]
        if submit(f"m21-palestrina-{p.stem}", f"palestrina/{p.name}, GM program {program}", score, program, False):
            taken += 1

    # Monteverdi madrigals (books 3-5, MusicXML; the corpus's .rntxt files are harmonic analyses), all unregistered.
    taken = 0
    for p in sorted((p for p in corpus.getComposer("monteverdi") if p.suffix == ".mxl"), key=lambda p: p.name):
        if taken == monteverdi_unregistered:
            break
        try:
            score = corpus.parse(p)
        except Exception as exc:
            skipped.append(f"monteverdi/{p.name} (music21: {type(exc).__name__})")
            continue
        program = CHORALE_PROGRAMS[(taken + 5) % len(CHORALE_PROGRAMS)]
        if submit(f"m21-monteverdi-{p.stem}", f"monteverdi/{p.name}, GM program {program}", score, program, False):
            taken += 1

    sources = []
    for name, detail, is_registered, wav, ogg, future in futures:
        problem = future.result()
        if problem:
            skipped.append(f"{detail} ({problem})")
            continue
        sources.append(Source(name, "rendered", ogg if is_registered else wav, is_registered, detail=detail))
    pool.shutdown()
    return sources, skipped


def read_pcm(path: Path) -> np.ndarray:
    """Stereo int16 at 44.1 kHz, decoded by the ffmpeg command line (independent of the code under test)."""
    raw = run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-f", "s16le", "-ac", "2", "-ar", str(PCM_RATE), "-"])
    return np.frombuffer(raw, dtype="<i2").reshape(-1, 2)


def wav_bytes(pcm: np.ndarray, rate: int = PCM_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return buffer.getvalue()


def decode_codes(data: bytes) -> tuple[np.ndarray, float]:
    audio = fingerprints.decode(data, sample_rate=SAMPLE_RATE, max_seconds=3600)
    return fingerprints.fingerprint(audio).codes, audio.duration


def safe_match(matcher, references: dict[int, np.ndarray], codes: np.ndarray) -> tuple[list, bool]:
    """AudioMatcher.match, and whether it raised.

    fingerprints/verify.py's _stretches() raises ValueError when a candidate alignment overlaps the reference
    by fewer than SMOOTHING_FRAMES (9) frames (np.convolve(mode="same") then returns 9 values, not fewer);
    the service would fail such a request. The benchmark counts those queries and screens them again
    without the too-short candidates (which could never make a match: MIN_SPAN_FRAMES is 16).
    """
    try:
        return matcher.match(codes), False
    except ValueError:
        kept = []
        for c in matcher.index.candidates(codes):
            reference = references.get(c.work_number)
            if reference is None:
                continue
            overlap = min(len(codes), len(reference) - c.offset) - max(0, -c.offset)
            if overlap >= SMOOTHING_FRAMES:
                kept.append(c)
        return verify(codes, references, kept), True


# ---------------------------------------------------------------------------------------- 2. throughput


def import_throughput(real: list[Source], passes: int) -> dict:
    datas = [(s.path, s.path.read_bytes()) for s in real]
    # The two are interleaved pass by pass (ours, fpcalc, ours, ...) so that both see the same machine, and timed
    # twice: wall time, and CPU time (ours: process_time(); fpcalc: the children's user + system time), which
    # what else runs on a shared machine disturbs far less.
    ours = []
    fpcalc_runs = []
    fpcalc_cpu = []
    fpcalc_codes = {}
    for _ in range(passes):
        decode_s = fp_s = audio_s = cpu_s = 0.0
        codes = {}
        for path, data in datas:
            c0 = time.process_time()
            t0 = time.perf_counter()
            audio = fingerprints.decode(data, sample_rate=SAMPLE_RATE, max_seconds=3600)
            t1 = time.perf_counter()
            printed = fingerprints.fingerprint(audio)
            t2 = time.perf_counter()
            cpu_s += time.process_time() - c0
            decode_s += t1 - t0
            fp_s += t2 - t1
            audio_s += audio.duration
            codes[path] = printed.codes
        ours.append((decode_s + fp_s, decode_s, fp_s, audio_s, codes, cpu_s))
        total = 0.0
        children = os.times()
        for path, _data in datas:
            t0 = time.perf_counter()
            # fpcalc 1.5.1 exits 3 after "Error decoding audio frame (End of file)" on these Oggs, yet prints
            # the whole fingerprint; the output is checked below instead of the exit status.
            out = subprocess.run(["fpcalc", "-raw", "-length", "0", str(path)], capture_output=True, text=True)
            total += time.perf_counter() - t0
            line = next((x for x in out.stdout.splitlines() if x.startswith("FINGERPRINT=")), "")
            if not line:
                raise RuntimeError(f"fpcalc printed no fingerprint for {path}: {out.stderr.strip()}")
            fpcalc_codes[path] = np.array([int(v) for v in line.split("=", 1)[1].split(",")], dtype=np.uint32)
        fpcalc_runs.append(total)
        after = os.times()
        fpcalc_cpu.append(after.children_user + after.children_system - children.children_user - children.children_system)
    best = min(ours, key=lambda r: r[0])
    # How close our in-process codes are to fpcalc's (same library, same resampler settings): mean BER at offset 0.
    bers = []
    for path, ours_codes in best[4].items():
        theirs = fpcalc_codes[path]
        n = min(len(ours_codes), len(theirs))
        bers.append(float(np.bitwise_count(ours_codes[:n] ^ theirs[:n]).mean() / 32))
    total, decode_s, fp_s, audio_s, _, _ = best
    fpcalc_best = min(fpcalc_runs)
    ours_cpu = min(r[5] for r in ours)
    return {
        "ours_cpu_s": ours_cpu, "fpcalc_cpu_s": min(fpcalc_cpu), "cpu_ratio": ours_cpu / min(fpcalc_cpu),
        "ours_cpu_all": [r[5] for r in ours], "fpcalc_cpu_all": fpcalc_cpu,
        "files": len(datas), "audio_s": audio_s, "passes": passes,
        "ours_s": total, "ours_decode_s": decode_s, "ours_fp_s": fp_s, "ours_rate": audio_s / total,
        "fpcalc_s": fpcalc_best, "fpcalc_rate": audio_s / fpcalc_best, "ratio": total / fpcalc_best,
        "ours_all": [r[0] for r in ours], "fpcalc_all": fpcalc_runs,
        "code_ber_vs_fpcalc_mean": float(np.mean(bers)), "code_ber_vs_fpcalc_max": float(np.max(bers)),
    }


# ----------------------------------------------------------------------------------- 1. gRPC latency


def encode_query(source: Path, start: float, seconds: float, kind: str, out: Path) -> bytes:
    codec = ["-c:a", "libvorbis", "-q:a", "4"] if kind == "ogg" else ["-c:a", "libmp3lame", "-b:a", "128k"]
    run(["ffmpeg", "-loglevel", "error", "-y", "-ss", str(start), "-t", str(seconds), "-i", str(source),
         "-ac", "2", "-ar", str(PCM_RATE), *codec, str(out)])
    return out.read_bytes()


def grpc_benchmark(folder: Path, registered: list[Source], queries: list[tuple[str, str, bytes]], runs: int) -> dict:
    from guard import server
    from guard.client import connect
    from guard.config import MIB, Settings
    from guard.v1 import catalog_pb2, catalog_pb2_grpc, screening_pb2, screening_pb2_grpc

    data_dir = folder / "grpc-data"
    running = server.start(Settings(data_dir=data_dir, listen="127.0.0.1:0", metrics_listen=None))
    address = f"localhost:{running.port}"
    try:
        catalog = connect(data_dir, "catalog", server=address)
        stub = catalog_pb2_grpc.CatalogServiceStub(catalog.channel)

        def upload(source: Source, data: bytes):
            details = catalog_pb2.WorkDetails(work_id=source.name.replace("_", "-")[:64], title=source.name,
                                              rights_holder="bench")
            yield catalog_pb2.RegisterWorkRequest(work=details, recording_chunk=data[:MIB])
            for i in range(MIB, len(data), MIB):
                yield catalog_pb2.RegisterWorkRequest(recording_chunk=data[i:i + MIB])

        payloads = [(s, s.path.read_bytes()) for s in registered]
        register_walls, register_audio = [], 0.0
        t_all = time.perf_counter()
        for source, data in payloads:
            t0 = time.perf_counter()
            response = stub.RegisterWork(upload(source, data), metadata=catalog.metadata)
            register_walls.append(time.perf_counter() - t0)
            if not response.created:
                raise RuntimeError(f"{source.name} was not created")
            register_audio += response.work.recording_seconds
        register_wall = time.perf_counter() - t_all
        register_bytes = sum(len(d) for _, d in payloads)
        catalog.close()
        lists = running.catalog.matcher.index.lists

        pipeline = connect(data_dir, "pipeline", server=address)
        screen = screening_pb2_grpc.ScreeningServiceStub(pipeline.channel)
        generation = screening_pb2.Generation(model_id="bench-model", model_version="1", pipeline_id="bench")
        results: dict[str, dict] = {label: {"wall": [], "stages": [], "verdicts": [], "bytes": len(data),
                                            "expect": expect} for label, expect, data in queries}

        def once(data: bytes):
            t0 = time.perf_counter()
            response = screen.Screen(screening_pb2.ScreenRequest(audio=data, generation=generation),
                                     metadata=pipeline.metadata)
            return time.perf_counter() - t0, response

        for label, _expect, data in queries:  # warm-up, not counted
            for _ in range(2):
                once(data)
        for _ in range(runs):  # round-robin so that drift spreads over every configuration
            for label, _expect, data in queries:
                wall, response = once(data)
                r = results[label]
                r["wall"].append(wall * 1000)
                r["stages"].append({t.stage: t.milliseconds for t in response.timings})
                r["verdicts"].append(screening_pb2.Verdict.Name(response.verdict).removeprefix("VERDICT_").lower())
        pipeline.close()
    finally:
        running.stop(2.0)
    for label, r in results.items():
        stage_names = list(dict.fromkeys(k for s in r["stages"] for k in s))
        r["p50"], r["p95"] = pct(r["wall"], 50), pct(r["wall"], 95)
        r["stage_p50"] = {k: pct([s.get(k, 0.0) for s in r["stages"]], 50) for k in stage_names}
        r["outside_p50"] = pct([w - sum(s.values()) for w, s in zip(r["wall"], r["stages"])], 50)
        r["verdict_counts"] = {v: r["verdicts"].count(v) for v in sorted(set(r["verdicts"]))}
        r["n"] = len(r["wall"])
        del r["stages"], r["verdicts"]
    return {"works": len(registered), "register_audio_s": register_audio, "register_wall_s": register_wall,
            "register_rate": register_audio / register_wall, "register_bytes": register_bytes,
            "register_p50_s": pct(register_walls, 50), "lists": lists, "latency": results, "runs": runs}


# -------------------------------------------------------------------------------- 5. detection and FPs


def transform(pcm: np.ndarray, condition: str, seed: int, scratch: Path) -> bytes:
    if condition == "clean":
        return wav_bytes(pcm)
    if condition == "gain_-10db":
        return wav_bytes(np.round(pcm.astype(np.float64) * 10 ** (-10 / 20)).astype(np.int16))
    if condition == "noise_10db":
        x = pcm.astype(np.float64) / 32768
        power = float(np.mean(x ** 2))
        noise = np.random.default_rng(seed).normal(0.0, math.sqrt(power / 10 ** (10 / 10)), x.shape)
        return wav_bytes(np.clip(np.round((x + noise) * 32767), -32768, 32767).astype(np.int16))
    if condition == "mp3_64k":
        return run(["ffmpeg", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", "64k",
                    "-f", "mp3", "pipe:1"], data=wav_bytes(pcm))
    effects = {"lowpass_3k": ["lowpass", "3000"], "eq": ["bass", "+6", "treble", "-6"],
               "gain_+6db_limited": ["gain", "-l", "6"]}[condition]
    src, dst = scratch / f"in-{seed}.wav", scratch / f"out-{seed}.wav"
    src.write_bytes(wav_bytes(pcm))
    run(["sox", "-G", "-V1", str(src), str(dst), *effects])
    data = dst.read_bytes()
    src.unlink()
    dst.unlink()
    return data


def excerpt_starts(seconds: float, length: float, count: int, rng: np.random.Generator) -> list[float]:
    """`count` start times spread over the track: one uniformly at random in each of `count` equal bins."""
    span = seconds - length - 0.5
    if span <= 0:
        return []
    return [float(rng.uniform(span * i / count, span * (i + 1) / count)) for i in range(count)]


def _self_ber(reference: np.ndarray, a: int, b: int, length: int) -> float:
    """BER between reference[a:a+length] and reference[b:b+length] over frames informative in both."""
    a, b = max(0, a), max(0, b)
    n = min(length, len(reference) - a, len(reference) - b)
    if n <= 0:
        return 1.0
    x, y = reference[a:a + n], reference[b:b + n]
    mask = informative(reference)[a:a + n] & informative(reference)[b:b + n]
    if not mask.any():
        return 1.0
    return float((np.bitwise_count(x ^ y)[mask] / 32).mean())


def run_trial(matcher, source: Source, by_number: dict[int, Source], pcm: np.ndarray, references: dict,
              start: float, length: float, condition: str, seed: int, scratch: Path) -> dict:
    a = int(round(start * PCM_RATE))
    excerpt = pcm[a:a + int(round(length * PCM_RATE))]
    data = transform(excerpt, condition, seed, scratch)
    codes, _ = decode_codes(data)
    found, crashed = safe_match(matcher, references, codes)
    end = start + length
    right = [m for m in found if m.work_number == source.number]
    main = any(m.reference_start < end and m.reference_end > start for m in right)
    strict = any(a < end and b > start for m in right for a, b in ((m.reference_start, m.reference_end), *m.repeats))
    siblings = [m for m in found if m.work_number != source.number and by_number[m.work_number].name in source.group]
    wrong = [m for m in found if by_number[m.work_number].name not in source.group]
    outcome = "detected"
    self_ber = None
    true_verifies = None
    if not strict:
        if right:
            m = right[0]
            q0 = int(round(m.query_start / FRAME_HOP_S))
            n = max(1, int(round((m.query_end - CODE_SPAN_S - m.query_start) / FRAME_HOP_S)) + 1)
            matched = int(round((m.reference_start - m.query_start) / FRAME_HOP_S))
            true = int(round(start / FRAME_HOP_S))
            self_ber = _self_ber(references[source.number], q0 + true, q0 + matched, n)
            outcome = "repeat" if self_ber < MATCH_FRAME_BER else "elsewhere"
            # Would the true alignment have verified on its own? (p scaled by 16, the most candidates there can be)
            alone = verify(codes, references, [Candidate(source.number, true, 0)])
            true_verifies = any(m.reference_start < end and m.reference_end > start
                                and m.false_match_probability * 16 <= MAX_FALSE_MATCH for m in alone)
        elif siblings:
            outcome = "sibling only"
        else:
            outcome = "missed"
    return {
        "source": source.name, "kind": source.kind, "length": length, "condition": condition, "start": start,
        "strict": strict, "main": main, "work": bool(right), "outcome": outcome, "self_ber": self_ber, "crashed": crashed,
        "true_verifies": true_verifies,
        "wrong": [(by_number[m.work_number].name, round(m.bit_error_rate, 3), m.false_match_probability,
                   round(m.query_start, 1), round(m.reference_start, 1)) for m in wrong],
        "ber": round(min((m.bit_error_rate for m in right), default=float("nan")), 4),
    }


def detection(matcher, registered: list[Source], references: dict, counts: dict[float, int],
              counts_rendered: dict[float, int], folder: Path, seed: int) -> list[dict]:
    by_number = {s.number: s for s in registered}
    scratch = folder / "scratch"
    scratch.mkdir(exist_ok=True)
    trials: list[dict] = []
    serial = 0
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        for index, source in enumerate(registered):
            pcm = read_pcm(source.path)
            seconds = len(pcm) / PCM_RATE
            rng = np.random.default_rng([seed, index])
            futures = []
            for length, count in (counts if source.kind == "real" else counts_rendered).items():
                for start in excerpt_starts(seconds, length, count, rng):
                    for condition, _ in CONDITIONS:
                        serial += 1
                        futures.append(pool.submit(run_trial, matcher, source, by_number, pcm, references, start,
                                                   length, condition, serial, scratch))
            trials.extend(f.result() for f in futures)
            log(f"  detection: {source.name} done ({len(trials)} trials so far)")
    return trials


def false_positives(matcher, references: dict, by_number: dict[int, Source], unregistered: list[Source],
                    hops: dict[float, float]) -> dict:
    windows = {length: 0 for length in hops}
    disjoint = {length: 0 for length in hops}
    by_kind: dict[tuple[str, float], int] = {}
    audio_s = {"real": 0.0, "rendered": 0.0}
    hits: list[dict] = []
    crashes = 0
    # How close unrelated music comes, under the shipped null model and the ones in NULL_MODELS: for every
    # window, the smallest false-match probability of any stretch behind its candidates (verify with no
    # threshold). For a calibrated model, about a fraction x of the windows would reach p <= x.
    models = {"shipped": NULL_MODEL, **NULL_MODELS}
    closest: dict[tuple[str, float], list[float]] = {(m, length): [] for m in models for length in hops}
    nearest: dict[str, dict] = {}
    disjoint_screened = {length: 0 for length in hops}
    for source in unregistered:
        audio = fingerprints.decode(source.path.read_bytes(), sample_rate=SAMPLE_RATE, max_seconds=3600)
        audio_s[source.kind] += audio.duration
        for length, hop in hops.items():
            n = int(length * SAMPLE_RATE)
            starts = np.arange(0, len(audio.samples) - n + 1, int(hop * SAMPLE_RATE))
            disjoint[length] += int(audio.duration // length)
            for a in starts.tolist():
                piece = fingerprints.Audio(audio.samples[a:a + n], SAMPLE_RATE, 1, SAMPLE_RATE, audio.codec)
                if fingerprints.is_silent(piece):
                    continue
                codes = fingerprints.fingerprint(piece).codes
                found, crashed = safe_match(matcher, references, codes)
                candidates = matcher.index.candidates(codes)
                for name, model in models.items():
                    stretches = verify(codes, references, candidates, null=model, max_false_match=1.0)
                    best = min(stretches, key=lambda m: m.false_match_probability, default=None)
                    p = best.false_match_probability if best else 1.0
                    closest[(name, length)].append(p)
                    if best and p < nearest.get(name, {}).get("p", 2.0):
                        nearest[name] = {"p": p, "ber": best.bit_error_rate, "source": source.name, "start": a / SAMPLE_RATE,
                                         "length": length, "work": by_number[best.work_number].name,
                                         "seconds": best.query_end - best.query_start}
                crashes += crashed
                windows[length] += 1
                if a % int(length * SAMPLE_RATE) == 0:
                    disjoint_screened[length] += 1
                by_kind[(source.kind, length)] = by_kind.get((source.kind, length), 0) + 1
                for m in found:
                    hits.append({"source": source.name, "length": length, "start": a / SAMPLE_RATE,
                                 "work": by_number[m.work_number].name, "ber": m.bit_error_rate,
                                 "p": m.false_match_probability, "query": (m.query_start, m.query_end),
                                 "reference": (m.reference_start, m.reference_end)})
    windows_hit = {length: len({(h["source"], h["start"]) for h in hits if h["length"] == length}) for length in hops}
    reach = {f"{m}/{int(length)}s": {x: int(np.sum(np.asarray(ps) <= x)) for x in P_LEVELS}
             for (m, length), ps in closest.items()}
    return {"windows": windows, "disjoint": disjoint, "disjoint_screened": disjoint_screened, "reach": reach,
            "nearest": nearest, "models": {k: (m.mean, m.sd_24, m.decay) for k, m in models.items()}, "by_kind": {f"{k}/{int(l)}s": v for (k, l), v in by_kind.items()},
            "windows_with_match": windows_hit, "hits": hits, "audio_s": audio_s, "hops": hops,
            "sources": len(unregistered), "crashes": crashes}


# ------------------------------------------------------------------------------------- 3. + 4. index scale


WORK_SECONDS = 180.0
QUERY_SECONDS = 10.0


def probed_list_ratio(index, references: dict[int, np.ndarray], rng: np.random.Generator, queries: int = 300) -> float:
    """Mean length of the lists a 10 s query probes, over the mean list length.

    The search scans the nprobe lists nearest to each query window, so this is how much longer than the average
    list the scanned lists are: 1.0 for codes spread evenly over the lists (the synthetic fill), more when real
    codes crowd into some lists and queries probe those most.
    """
    from fingerprints import index as fidx

    ivf = index._index
    sizes = np.array([ivf.invlists.list_size(i) for i in range(ivf.nlist)], dtype=np.float64)
    numbers = [n for n, c in references.items() if len(c) > _frames(QUERY_SECONDS) + 1]
    probed = []
    for _ in range(queries):
        codes = references[numbers[int(rng.integers(len(numbers)))]]
        start = int(rng.integers(0, len(codes) - _frames(QUERY_SECONDS)))
        vecs, _ = fidx.windows(_query(codes, start, _frames(QUERY_SECONDS), rng, 0.05), 1)
        if len(vecs):
            _, lists = ivf.quantizer.search(vecs, ivf.nprobe)
            probed.append(sizes[lists[lists >= 0]].mean())
    return float(np.mean(probed) / sizes.mean())


def _frames(seconds: float) -> int:
    return int(round((seconds - CODE_SPAN_S) / FRAME_HOP_S)) + 1


def _query(codes: np.ndarray, start: int, n: int, rng: np.random.Generator, flip: float) -> np.ndarray:
    """An excerpt's codes with each bit flipped with probability `flip` (everyday processing flips ~5%)."""
    bits = rng.random((n, 32)) < flip
    mask = (bits * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    return codes[start:start + n] ^ mask


def scale_worker(params: dict) -> dict:
    """One synthetic index in a fresh process (clean RSS, memory returned on exit). See scale_section()."""
    import faiss

    from fingerprints import index as fidx

    hours, mode, queries, seed = params["hours"], params["mode"], params["queries"], params["seed"]
    rng = np.random.default_rng(seed)
    frames = _frames(WORK_SECONDS)
    per_work_vectors = len(range(0, frames - fidx.WINDOW + 1, fidx.REFERENCE_STRIDE))
    works = int(math.ceil(hours * 3600 / (frames * FRAME_HOP_S)))
    vectors = works * per_work_vectors
    qn = _frames(QUERY_SECONDS)
    out: dict = {"hours_requested": hours, "mode": mode, "works": works, "vectors": vectors,
                 "reference_hours": works * frames * FRAME_HOP_S / 3600, "lists": fidx.lists_for(vectors),
                 "query_codes": qn, "faiss_threads": faiss.omp_get_max_threads()}
    rss0 = rss_bytes()
    timings: dict[str, float] = {}

    if mode == "class":
        # Exactly the service's path: AudioIndex.build over every reference (train on a sample, add per work).
        original_train = faiss.IndexBinaryIVF.train

        def timed_train(self, x):
            t = time.perf_counter()
            result = original_train(self, x)
            timings["train_s"] = time.perf_counter() - t
            timings["train_points"] = len(x)
            return result

        faiss.IndexBinaryIVF.train = timed_train
        references = {n: rng.integers(0, 2**32, frames, dtype=np.uint32) for n in range(1, works + 1)}
        t = time.perf_counter()
        index = fidx.AudioIndex.build(references.items())
        out["build_s"] = time.perf_counter() - t
        out["train_s"] = timings["train_s"]
        out["train_points"] = int(timings["train_points"])
        out["add_s"] = out["build_s"] - out["train_s"]
        matcher = fingerprints.AudioMatcher(index, references)
        out["reference_bytes"] = matcher.reference_bytes()
        sources = references
    else:
        # FAISS IndexBinaryIVF built as the class builds it (same lists_for(), quantizer trained by
        # IndexBinaryIVF.train), but trained on `train_per_list` points per list and with the inverted lists
        # filled directly: the vectors of the query-source works go to their nearest centroid (as add does);
        # the filler vectors (independent random 128-bit windows) go to uniformly random lists, each list
        # allocated once at its final size.
        nlist = out["lists"]
        quantizer = faiss.IndexBinaryFlat(fidx.BITS)
        ivf = faiss.IndexBinaryIVF(quantizer, fidx.BITS, nlist)
        train = np.frombuffer(rng.bytes(nlist * params["train_per_list"] * 16), dtype=np.uint8).reshape(-1, 16)
        t = time.perf_counter()
        ivf.train(train)
        out["train_s"] = time.perf_counter() - t
        out["train_points"] = len(train)
        del train
        # The service's add path (nearest-centroid assignment + append) at this nlist, on a sample.
        sample = np.frombuffer(rng.bytes(params["add_sample"] * 16), dtype=np.uint8).reshape(-1, 16)
        for threads, key in ((faiss.omp_get_max_threads(), "class_add_rate"), (1, "class_add_rate_1t")):
            faiss.omp_set_num_threads(threads)
            scratch = faiss.IndexBinaryIVF(quantizer, fidx.BITS, nlist)
            t = time.perf_counter()
            scratch.add_with_ids(sample, np.arange(len(sample), dtype=np.int64))
            out[key] = len(sample) / (time.perf_counter() - t)
            del scratch
        faiss.omp_set_num_threads(out["faiss_threads"])
        out["class_add_sample"] = len(sample)
        del sample
        source_count = min(works, params["source_works"])
        sources = {n: rng.integers(0, 2**32, frames, dtype=np.uint32) for n in range(1, source_count + 1)}
        src_vecs, src_ids = [], []
        for n, codes in sources.items():
            v, starts = fidx.windows(codes, fidx.REFERENCE_STRIDE)
            src_vecs.append(v)
            src_ids.append(fidx.vector_ids(n, starts))
        src_v = np.concatenate(src_vecs)
        src_i = np.concatenate(src_ids)
        _, assign = quantizer.search(src_v, 1)
        assign = assign[:, 0]
        order = np.argsort(assign, kind="stable")
        src_v, src_i, assign = src_v[order], src_i[order], assign[order]
        bounds = np.searchsorted(assign, np.arange(nlist + 1))
        fill = vectors - len(src_v)
        counts = rng.multinomial(fill, np.full(nlist, 1.0 / nlist))
        invlists = ivf.invlists
        t = time.perf_counter()
        for lst in range(nlist):
            k = int(counts[lst])
            lo, hi = bounds[lst], bounds[lst + 1]
            codes = np.frombuffer(rng.bytes(k * 16), dtype=np.uint8).reshape(k, 16)
            ids = (rng.integers(source_count + 1, works + 1, k, dtype=np.int64) << 24) | (
                2 * rng.integers(0, per_work_vectors, k, dtype=np.int64))
            if hi > lo:
                codes = np.concatenate([src_v[lo:hi], codes])
                ids = np.concatenate([src_i[lo:hi], ids])
            codes = np.ascontiguousarray(codes)
            ids = np.ascontiguousarray(ids)
            if len(ids):
                invlists.add_entries(lst, len(ids), faiss.swig_ptr(ids), faiss.swig_ptr(codes))
        ivf.ntotal = vectors
        out["fill_s"] = time.perf_counter() - t
        index = fidx.AudioIndex(ivf)
        out["reference_bytes"] = None
    out["rss_growth_bytes"] = rss_bytes() - rss0
    out["memory_bytes"] = index.memory_bytes()
    sizes = np.array([index._index.invlists.list_size(i) for i in range(index.lists)])
    out["list_mean"], out["list_max"] = float(sizes.mean()), int(sizes.max())
    out["size"] = index.size
    # Queries: a 10 s excerpt of a reference, start at any frame, 5% of bits flipped; 5 warm-up queries first.
    numbers = list(sources)
    planned = []
    for _ in range(queries + 5):
        work = numbers[int(rng.integers(len(numbers)))]
        start = int(rng.integers(0, frames - qn))
        planned.append((work, start, _query(sources[work], start, qn, rng, 0.05)))
    # First as the service searches (AudioIndex.candidates: one thread for a query this short), then with the
    # search spread over FAISS's default OpenMP threads, as the service did before (SINGLE_THREAD_WINDOWS = -1).
    single = fidx.SINGLE_THREAD_WINDOWS
    for threads, suffix in ((single, ""), (-1, "_omp")):
        fidx.SINGLE_THREAD_WINDOWS = threads
        lat, hit = [], 0
        for q, (work, start, query) in enumerate(planned):
            t = time.perf_counter()
            found = index.candidates(query)
            elapsed = time.perf_counter() - t
            if q >= 5:
                lat.append(elapsed * 1000)
                hit += any(c.work_number == work and abs(c.offset - start) <= fidx.REFERENCE_STRIDE for c in found)
        out["queries"] = len(lat)
        out["p50_ms" + suffix], out["p95_ms" + suffix], out["max_ms" + suffix] = pct(lat, 50), pct(lat, 95), max(lat)
        out["source_found" + suffix] = hit
    fidx.SINGLE_THREAD_WINDOWS = single
    out["load"] = os.getloadavg()
    return out


def scale_section(plan: list[dict]) -> list[dict]:
    margin = 2 * 2**30  # the machine may be shared; leave room for everything else
    results = []
    for params in plan:
        need = params["need_bytes"]
        available = mem_available_bytes()
        if need + margin > available:
            reason = (f"needs about {need / 2**30:.1f} GiB (+{margin / 2**30:.0f} GiB margin), "
                      f"{available / 2**30:.1f} GiB available")
            results.append({**params, "skipped": reason})
            log(f"  scale {params['hours']} h ({params['mode']}): skipped, {reason}")
            if not params.get("fallback"):
                continue
            per_hour = (need - params["fixed_bytes"]) / params["hours"]
            fit = int((available - margin - params["fixed_bytes"]) / per_hour // 5000 * 5000)
            if fit <= 5000:
                continue
            params = {**params, "hours": fit, "need_bytes": int(fit * per_hour + params["fixed_bytes"]),
                      "reduced_from": params["hours"]}
        log(f"  scale {params['hours']} h ({params['mode']}) ...")
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--scale-worker", json.dumps(params)],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [f"signal {-proc.returncode}"]
            results.append({**params, "skipped": f"the worker failed (exit {proc.returncode}): {tail[0]}"})
            log(f"  scale {params['hours']} h failed: {proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["wall_s"] = wall
        r["reduced_from"] = params.get("reduced_from")
        results.append(r)
        log(f"  scale {params['hours']} h ({params['mode']}): p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, "
            f"{r['memory_bytes'] / r['reference_hours'] / 2**20:.3f} MiB/h, {wall:.0f} s")
    return results


def scale_plan(quick: bool, queries: int) -> list[dict]:
    from fingerprints import index as fidx

    plan = []
    steps = [(500, "fill"), (5000, "fill")] if quick else [(500, "class"), (500, "fill"), (5000, "fill"),
                                                           (50000, "fill")]
    frames = _frames(WORK_SECONDS)
    per_work = len(range(0, frames - fidx.WINDOW + 1, fidx.REFERENCE_STRIDE))
    for hours, mode in steps:
        works = math.ceil(hours * 3600 / (frames * FRAME_HOP_S))
        vectors = works * per_work
        fixed = int(1.5 * 2**30)  # interpreter, FAISS, training and query-source data
        need = vectors * (16 + 8) + fixed
        if mode == "class":
            need += works * frames * 4 + vectors * 16 * 2  # references + build()'s concatenated copy
        plan.append({"hours": hours, "mode": mode, "queries": queries, "seed": hours, "train_per_list": 2,
                     "add_sample": 100_000, "source_works": 60, "need_bytes": int(need), "fixed_bytes": fixed,
                     "fallback": hours == 50000})
    return plan


# ---------------------------------------------------------------------------------------------- report


def machine_details() -> dict:
    from _report import machine

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    import faiss

    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
    commit = version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "machine": machine(), "nproc": os.cpu_count(), "mem_gib": mem / 2**30, "load_start": os.getloadavg(),
        "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "versions": f"FAISS {faiss.__version__}, {version(['fpcalc', '-version'])}, "
                    f"{' '.join(version(['ffmpeg', '-version']).split()[:3])}, {version(['sox', '--version']).strip()}, "
                    f"{version(['fluidsynth', '--version'])}",
    }


def command_line(argv: list[str]) -> str:
    entry = os.environ.get("GUARD_BENCH_ENTRY")
    if entry:
        return shlex.join([entry, *argv])
    return shlex.join([".venv/bin/python", "scripts/bench/foundation.py", *argv])


@dataclass
class Report:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # figure, measured, target, met
    body: list[str] = field(default_factory=list)

    def row(self, figure: str, measured: str, target: str = "", met: bool | str | None = None) -> None:
        verdict = met if isinstance(met, str) else "" if met is None else ("yes" if met else "**no**")
        self.rows.append((figure, measured, target, verdict))

    def add(self, text: str) -> None:
        self.body.append(text.rstrip() + "\n")

    def markdown(self, head: str) -> str:
        table = ["| figure | measured | target | met |", "|---|---|---|---|"]
        table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        return head + "\n" + "\n".join(table) + "\n\n" + "\n".join(self.body)


def fmt_rate(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.1f}%)" if n else "0/0"


def build_report(args, info: dict, real: list[Source], rendered: list[Source], skipped: list[str],
                 thr: dict, grpc_r: dict, mem: dict, scale: list[dict], trials: list[dict], fp: dict,
                 elapsed: float) -> Report:
    rep = Report()
    # ---- 1. latency
    lat = grpc_r["latency"]
    three = [r for label, r in lat.items() if label.startswith("180 s")]
    worst_3min_p50 = max(r["p50"] for r in three)
    rep.row("screening latency, 3-minute Ogg / MP3 over gRPC (warm server, worst of the four 3-minute queries)",
            f"p50 **{worst_3min_p50:.0f} ms**, p95 {max(r['p95'] for r in three):.0f} ms", "<= 500 ms p50",
            worst_3min_p50 <= 500)
    # ---- 2. throughput
    rep.row("import throughput, decode + fingerprint in process (16 Oggs, best of "
            f"{thr['passes']})", f"**{thr['ours_rate']:.0f}x** real time ({thr['audio_s']:.0f} s of audio in "
            f"{thr['ours_s']:.2f} s)", "", None)
    rep.row("same files with `fpcalc -raw -length 0` (sum of per-file wall times, best of "
            f"{thr['passes']})", f"{thr['fpcalc_rate']:.0f}x real time ({thr['fpcalc_s']:.2f} s)", "", None)
    rep.row("in-process time / fpcalc time (wall; CPU time in brackets)",
            f"**{thr['ratio']:.2f}x** ({thr['cpu_ratio']:.2f}x)", "<= 1.5x", thr["ratio"] <= 1.5)
    rep.row(f"RegisterWork over gRPC ({grpc_r['works']} works, sequential, end to end)",
            f"{grpc_r['register_rate']:.0f}x real time ({grpc_r['register_audio_s']:.0f} s of audio in "
            f"{grpc_r['register_wall_s']:.1f} s)", "", None)
    # ---- 3. memory
    for label, m in mem.items():
        rep.row(f"index memory per hour, {label} ({m['hours']:.2f} h)",
                f"index {m['index'] / m['hours'] / 2**20:.3f} MiB/h + reference codes "
                f"{m['refs'] / m['hours'] / 2**20:.3f} MiB/h = **{(m['index'] + m['refs']) / m['hours'] / 2**20:.3f} MiB/h**",
                "<= 1 MiB/h", (m["index"] + m["refs"]) / m["hours"] / 2**20 <= 1)
    # Reference codes per hour as measured by reference_bytes() (500 h class build, else the real catalog).
    measured_refs = [r["reference_bytes"] / r["reference_hours"] for r in scale if r.get("reference_bytes")]
    refs_per_h = (measured_refs[0] if measured_refs else
                  next(iter(mem.values()))["refs"] / next(iter(mem.values()))["hours"]) / 2**20
    for r in scale:
        if "skipped" in r or r["mode"] == "fill" and r["hours_requested"] == 500:
            continue
        per_h = r["memory_bytes"] / r["reference_hours"] / 2**20
        refs = (f" + reference codes {refs_per_h:.3f} MiB/h = **{per_h + refs_per_h:.3f} MiB/h**"
                + ("" if r.get("reference_bytes") else " (codes per hour as measured at 500 h)"))
        rep.row(f"index memory per hour, synthetic {r['hours_requested']:,} h ({r['mode']})",
                f"index {per_h:.3f} MiB/h (`memory_bytes()`){refs}; process RSS grew "
                f"{r['rss_growth_bytes'] / r['reference_hours'] / 2**20:.3f} MiB/h during the build"
                + (" (with the reference codes and build temporaries)" if r["mode"] == "class" else ""),
                "<= 1 MiB/h", per_h + refs_per_h <= 1)
    # ---- 4. scale
    for r in scale:
        if "skipped" in r:
            rep.row(f"candidate search at {r['hours']:,} h", f"**not measured**: {r['skipped']}",
                    "<= 50 ms p95 at 5,000 h" if r["hours"] == 5000 else "", None)
            continue
        reduced = f" (instead of {r['reduced_from']:,} h, which did not fit)" if r.get("reduced_from") else ""
        rep.row(f"candidate search, 10 s query, {r['hours_requested']:,} h synthetic{reduced} ({r['mode']}, "
                f"{r['vectors'] / 1e6:.1f} M vectors, {r['lists']:,} lists)",
                f"p50 {r['p50_ms']:.2f} ms, **p95 {r['p95_ms']:.2f} ms** ({r['queries']} queries)",
                "<= 50 ms p95" if r["hours_requested"] == 5000 else "",
                r["p95_ms"] <= 50 if r["hours_requested"] == 5000 else None)
    # ---- 5. detection
    real_trials = [t for t in trials if t["kind"] == "real"]
    for condition, _ in CONDITIONS:
        ts = [t for t in real_trials if t["condition"] == condition and t["length"] == 10]
        k = sum(t["strict"] for t in ts)
        k_main = sum(t["main"] for t in ts)
        k_rep = sum(t["strict"] or t["outcome"] == "repeat" for t in ts)
        rep.row(f"10 s excerpts of registered real music found at their true position, {condition}",
                f"**{fmt_rate(k, len(ts))}** (as the match's own span {fmt_rate(k_main, len(ts))}, as one of its "
                f"repeats the rest); at the true position or a verified repeat of it: {fmt_rate(k_rep, len(ts))}",
                ">= 99%", bool(ts) and k / len(ts) >= 0.99)
    total_windows = sum(fp["windows"].values())
    k_fp = sum(fp["windows_with_match"].values())
    # Independent trials: the non-overlapping 10 s windows (each recording cut at 0, 10, 20 s, ...) that were
    # screened; the overlapping ones and the 30 s windows reuse the same audio.
    disjoint = fp["disjoint_screened"][10.0]
    k_disjoint = len({(h["source"], h["start"]) for h in fp["hits"] if h["length"] == 10.0 and h["start"] % 10 == 0})
    wrong_queries = sum(bool(t["wrong"]) for t in trials)
    if k_disjoint:
        fp_met: bool | str = k_disjoint / disjoint <= 0.001
        fp_text = (f"**{k_disjoint} of {disjoint}** non-overlapping 10 s windows ({100 * k_disjoint / disjoint:.2f}%); "
                   f"{k_fp} of {total_windows} windows in all")
    else:
        fp_met = True if 3 / disjoint <= 0.001 else "not shown: 0 seen, bound too wide"
        fp_text = (f"**0 of {disjoint}** non-overlapping 10 s windows: rate < 3/{disjoint} = {300 / disjoint:.3f}% at "
                   f"95% confidence; {k_fp} of {total_windows} windows in all (overlapping, 10 s and 30 s)")
    rep.row("false positives on unregistered music (independent 10 s windows, real and rendered)", fp_text, "<= 0.1%",
            fp_met)
    rep.row("matches to a wrong work among the detection queries (shared-audio pairs excluded)",
            f"**{wrong_queries} of {len(trials)}** queries", "", None)

    # ---------------------------------------------------------------- body
    rep.add(f"""### Material

* Real music: the {len(real)} Ogg Vorbis tracks of Debian's `freedroidrpg-data` ({sum(s.seconds for s in real) / 60:.1f} min).
  Registered: {', '.join(s.name for s in real if s.registered)}. Unregistered (negatives): {', '.join(s.name for s in real if not s.registered)}.
* **Shared audio in the soundtrack**: AmbientBattle/TechBattle share material (same length, one contains the other's),
  and cross-screening every track against the 15 others showed that **HellFortressEntrance/HellFortressTwo share their
  first ~31 s** as well. A match inside either pair is counted as correct, never as a false positive; both pairs are
  registered, so no unregistered window can legitimately match them.
* Rendered music: {len(rendered)} pieces of music21's corpus written to MIDI (`score.write('midi')`, every part set to
  one General MIDI program per piece) and rendered with `fluidsynth -ni -g 0.8 -r 44100` and FluidR3_GM.sf2
  ({sum(s.seconds for s in rendered) / 60:.1f} min). Registered ones were encoded to Ogg Vorbis (`-q:a 5`) as a release would be;
  unregistered ones are screened from the rendered WAV. Bach chorales were chosen with distinct soprano melodies
  (many chorales re-harmonise the same tune). Registered: {', '.join(s.detail for s in rendered if s.registered)}.
  Unregistered: {len([s for s in rendered if not s.registered])} pieces, {sum(s.seconds for s in rendered if not s.registered) / 60:.1f} min.
""" + (f"  Not rendered (skipped): {'; '.join(skipped)}.\n" if skipped else ""))

    # latency detail
    stages = list(dict.fromkeys(k for r in lat.values() for k in r["stage_p50"]))
    lines = ["### 1. Screening latency over gRPC",
             "",
             f"An in-process server (`guard.server.start`, TLS on 127.0.0.1, SQLite in a temporary data directory, "
             f"{grpc_r['works']} works registered through `RegisterWork`, index of {grpc_r['lists']} lists) screened each "
             f"query with unary `Screen` and the pipeline role's credential, {grpc_r['runs']} times each after 2 warm-up "
             f"calls, round-robin over the queries, one call at a time. Wall time is measured in the client around the "
             f"call; the stages come from the response's `timings`. Queries were cut from the tracks and encoded with "
             f"ffmpeg (Ogg Vorbis `-q:a 4`, MP3 128 kbit/s, 44.1 kHz stereo). *registered* = cut from a registered track "
             f"(menu.ogg), *unregistered* = cut from an unregistered one (town.ogg); *verdicts* are as the server "
             f"returned them.",
             "",
             "| query | bytes | runs | verdicts | p50 ms | p95 ms | " +
             " | ".join(f"{k} p50" for k in stages) + " | outside stages p50 |",
             "|---|---|---|---|---|---|" + "---|" * (len(stages) + 1)]
    for label, r in lat.items():
        verdicts = ", ".join(f"{v} {c}" for v, c in r["verdict_counts"].items())
        cells = [f"{r['stage_p50'][k]:.1f}" if k in r["stage_p50"] else "-" for k in stages]
        lines.append(f"| {label} | {r['bytes']:,} | {r['n']} | {verdicts} | {r['p50']:.1f} | {r['p95']:.1f} | " +
                     " | ".join(cells) + f" | {r['outside_p50']:.1f} |")
    lines.append("\n*outside stages* = client wall time minus the sum of the reported stages (transport, TLS, "
                 "protobuf, authorisation, hashing, idempotency lookup). The melody path (melody, then melody_match) "
                 "runs beside the audio path (fingerprint, then match), hence the negative values. An analysis worker "
                 "receives the samples while the track decodes and computes the landmark spectrogram and the "
                 "melody's spectra meanwhile, on the other core: *fingerprint* (Chromaprint, then the landmark peaks "
                 "of the worker's spectrogram) and *melody* (what the worker had left once the decode ended) count "
                 "only what follows the decode. *-*: the stage did not run (no melody was found in the query, so "
                 "nothing was matched).")
    rep.add("\n".join(lines))

    rep.add(f"""### 2. Import throughput

Decode + fingerprint in process (`fingerprints.decode(bytes, sample_rate=11025, max_seconds=3600)` then
`fingerprints.fingerprint(audio)`; file bytes already in memory) over the {thr['files']} Oggs ({thr['audio_s']:.0f} s of audio):
best of {thr['passes']} passes **{thr['ours_s']:.2f} s** (decode {thr['ours_decode_s']:.2f} s, fingerprint {thr['ours_fp_s']:.2f} s) =
{thr['ours_rate']:.0f}x real time; all passes: {', '.join(f'{v:.2f}' for v in thr['ours_all'])} s.
`fpcalc -raw -length 0 FILE` on the same files, one process per file, sum of wall times (process start-up and
file reading included): best of {thr['passes']} **{thr['fpcalc_s']:.2f} s** = {thr['fpcalc_rate']:.0f}x real time; all passes:
{', '.join(f'{v:.2f}' for v in thr['fpcalc_all'])} s. Ratio **{thr['ratio']:.2f}x** (target <= 1.5x).
The passes alternate (ours, fpcalc, ours, ...). CPU time, which other processes on a shared machine disturb far less
than wall time: ours (`time.process_time()`) best {thr['ours_cpu_s']:.2f} s (all: {', '.join(f'{v:.2f}' for v in thr['ours_cpu_all'])}),
fpcalc (children's user + system time) best {thr['fpcalc_cpu_s']:.2f} s (all: {', '.join(f'{v:.2f}' for v in thr['fpcalc_cpu_all'])}):
ratio **{thr['cpu_ratio']:.2f}x**.
The in-process codes agree with fpcalc's to a mean bit-error rate of {thr['code_ber_vs_fpcalc_mean']:.5f} (worst file
{thr['code_ber_vs_fpcalc_max']:.5f}): both decode with FFmpeg and resample to 11,025 Hz mono with libswresample set up
as Chromaprint's `SetCompatibleMode()` sets it (fingerprints/decode.py).

RegisterWork over gRPC, end to end (client streaming in 1 MiB chunks, server decodes, fingerprints, stores and
indexes, retraining the index whenever it is outgrown): {grpc_r['works']} works, {grpc_r['register_audio_s']:.0f} s of audio
({grpc_r['register_bytes'] / 2**20:.1f} MiB) in {grpc_r['register_wall_s']:.2f} s = **{grpc_r['register_rate']:.0f}x real time**
(p50 per work {grpc_r['register_p50_s'] * 1000:.0f} ms).
""")

    mlines = ["### 3. Index memory per hour of reference", "",
              "`AudioMatcher.index.memory_bytes()` (inverted lists at 16 B code + 8 B id per vector, plus the coarse "
              "centroids) and `AudioMatcher.reference_bytes()` (the raw codes kept for verification, 4 B per "
              "0.124 s frame), divided by hours of reference audio.", "",
              "| catalog | hours | vectors | lists (largest / mean) | index B | index MiB/h | reference MiB/h | total MiB/h |",
              "|---|---|---|---|---|---|---|---|"]
    for label, m in mem.items():
        mlines.append(f"| {label} | {m['hours']:.3f} | {m['vectors']:,} | {m['lists']} ({m['list_max']} / {m['list_mean']:.1f}) | "
                      f"{m['index']:,} | {m['index'] / m['hours'] / 2**20:.3f} | {m['refs'] / m['hours'] / 2**20:.3f} | "
                      f"{(m['index'] + m['refs']) / m['hours'] / 2**20:.3f} |")
    if mem:
        mlines.append("")
        mlines.append("Lists a query probes, over the mean list (`probed_list_ratio`: 300 10 s excerpts of the "
                      "catalog's own codes with 5% of bits flipped; 1.0 = the scanned lists are average ones, as in "
                      "the synthetic fill): " + "; ".join(f"{label} {m['probed_ratio']:.2f}" for label, m in mem.items())
                      + ".")
    for r in scale:
        if "skipped" in r:
            continue
        refs = r["reference_bytes"]
        mlines.append(
            f"| synthetic {r['hours_requested']:,} h ({r['mode']}) | {r['reference_hours']:.1f} | {r['vectors']:,} | "
            f"{r['lists']:,} ({r['list_max']} / {r['list_mean']:.1f}) | {r['memory_bytes']:,} | "
            f"{r['memory_bytes'] / r['reference_hours'] / 2**20:.3f} | "
            f"{'%.3f' % (refs / r['reference_hours'] / 2**20) if refs else 'not held'} | "
            f"{'%.3f' % ((r['memory_bytes'] + refs) / r['reference_hours'] / 2**20) if refs else '-'} |")
    mlines.append("")
    mlines.append("Process RSS growth while building the synthetic indexes (what the operating system actually gave "
                  "the process, against `memory_bytes()`):")
    mlines.append("")
    for r in scale:
        if "skipped" in r:
            continue
        extra = " (includes the reference codes and build temporaries)" if r["mode"] == "class" else ""
        mlines.append(f"* {r['hours_requested']:,} h ({r['mode']}): RSS grew {r['rss_growth_bytes'] / 2**20:,.0f} MiB "
                      f"= {r['rss_growth_bytes'] / r['reference_hours'] / 2**20:.3f} MiB/h{extra}; "
                      f"`memory_bytes()` {r['memory_bytes'] / 2**20:,.0f} MiB.")
    rep.add("\n".join(mlines))

    from fingerprints import index as fidx

    slines = ["### 4. Candidate search at scale", "",
              f"Synthetic references: works of {WORK_SECONDS:.0f} s = {_frames(WORK_SECONDS)} random uint32 codes each. Query: "
              f"a {QUERY_SECONDS:.0f} s excerpt ({_frames(QUERY_SECONDS)} codes) of a registered reference starting at a random "
              "frame, with each bit flipped with probability 0.05 (the index docstring's everyday-processing figure); "
              "timed call: `AudioIndex.candidates(codes)` (nprobe 8, 4 neighbours). *found* = the source work at its "
              "true offset (within 2 frames) is among the candidates. Each index is built in its own process. "
              f"The queries run as the service runs them (`candidates()` searches a query of up to "
              f"{fidx.SINGLE_THREAD_WINDOWS} windows on the calling thread alone), then again with the search spread "
              f"over FAISS's default OpenMP threads ({scale[0].get('faiss_threads', '?') if scale else '?'}), as the "
              "service did before: on a shared machine a busy core stalls OpenMP's barriers at every parallel region "
              "of the search. Both return the same candidates (*found* is counted for both).", "",
              "* **class**: `fingerprints.index.AudioIndex.build(references)` exactly as the service rebuilds: "
              f"k-means training on {fidx._TRAINING_POINTS_PER_LIST} points per list, then `add_with_ids` per work "
              "(nearest-centroid assignment).",
              "* **fill**: the same FAISS `IndexBinaryIVF` (lists from `lists_for()`, quantizer trained by "
              "`IndexBinaryIVF.train`, but on 2 random points per list instead of 32), whose inverted lists are filled "
              "directly: the windows of 60 query-source works go to their nearest centroid as `add` would put them; "
              "the other vectors are independent random 128-bit windows placed in uniformly random lists, each list "
              "allocated once at its final size. The service's own add path at that list count was timed on a "
              "100,000-vector sample (*class add rate*). This is what made 5,000 h and 50,000 h measurable here: "
              "see below.", "",
              "| hours | mode | vectors | lists | train points | train s | build / fill s | class add rate | "
              "query p50 ms | p95 ms | max ms | found | OpenMP threads (before): p50 / p95 ms, found | load (1 min) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in scale:
        if "skipped" in r:
            slines.append(f"| {r['hours']:,} | {r['mode']} | - | - | - | - | - | - | not measured: {r['skipped']} "
                          "| | | | | |")
            continue
        build = f"{r['build_s']:.1f} (train {r['train_s']:.1f} + add {r['add_s']:.1f})" if r["mode"] == "class" \
            else f"{r['fill_s']:.1f}"
        add_rate = (f"{r['class_add_rate']:,.0f} vectors/s ({r['class_add_rate_1t']:,.0f} with 1 thread)"
                    if "class_add_rate" in r else "(in build)")
        slines.append(f"| {r['hours_requested']:,} | {r['mode']} | {r['vectors']:,} | {r['lists']:,} | {r['train_points']:,} | "
                      f"{r['train_s']:.1f} | {build} | {add_rate} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
                      f"{r['max_ms']:.2f} | {r['source_found']}/{r['queries']} | "
                      f"{r['p50_ms_omp']:.2f} / {r['p95_ms_omp']:.2f}, {r['source_found_omp']}/{r['queries']} | "
                      f"{r['load'][0]:.2f} |")
    slines.append("")
    notes = []
    for r in scale:
        if "skipped" in r or "class_add_rate" not in r:
            continue
        best = max(r["class_add_rate"], r["class_add_rate_1t"])
        notes.append(f"at {r['hours_requested']:,} h the service's add path would have to place {r['vectors'] / 1e6:.0f} M "
                     f"vectors; at the better of the two measured rates ({best:,.0f} vectors/s) that is "
                     f"{r['vectors'] / best / 60:,.0f} min (arithmetic from the measured rate, not a measurement)")
    if notes:
        slines.append("Why not the class's own build at 5,000 h and above: adding is a brute-force search over every "
                      "centroid per vector; " + "; ".join(notes) + ". Its k-means training (float k-means over "
                      f"{fidx._TRAINING_POINTS_PER_LIST} points per list, cost ~ points x lists) was likewise only run "
                      "at 500 h; the fill indexes were "
                      "trained on 2 points per list. Random codes spread evenly over the lists; real Chromaprint windows "
                      "crowd into some lists a little, and queries probe those more often: the lists a real 10 s query "
                      "scans hold " + ", ".join(f"{m['probed_ratio']:.2f}x" for m in mem.values()) + " the mean "
                      "(section 3, measured on the real catalogs of under an hour; nothing here measures it at "
                      "thousands of hours), so a real index of the same size scans about that much more per probe "
                      "than the fill one. The add rates, like the build and query times, depend heavily on "
                      "what else runs: FAISS's OpenMP threads wait for one another at every parallel region, and a core "
                      "taken by another process stalls them (compare the rates measured here with the load average).")
    rep.add("\n".join(slines))

    # detection
    dl = ["### 5. Detection and false positives", "",
          "In process (`AudioMatcher.build` over the registered works' codes, then `AudioMatcher.match`). Excerpts "
          "are cut from each registered recording (decoded by the ffmpeg command line to 44.1 kHz stereo) at start "
          "times spread over the track (one uniformly random start in each of N equal bins), transformed as a file, "
          "and screened through `fingerprints.decode` + `fingerprint` + `match`. *found* = a match to the right "
          "work that places the excerpt at its true position: its reference span overlaps the true position, or "
          "one of its *repeats* does. Music repeats itself (the soundtracks loop, the scores have repeat signs); "
          "where the excerpt's audio recurs in the work, the match's reference span is the best-matching place "
          "(Chromaprint's 124 ms frames fall on the excerpt's audio at another phase at each place, so a loop "
          "elsewhere can match with fewer bit errors than the true position) and the other places that verify "
          "for the same query stretch are listed as its repeats (`AudioMatch.repeats`, `Match.repeats` in the "
          "API). *own span* = the match's reference span itself overlaps the true position. *right work* = any "
          "match to the right work.", "",
          "Transformations: " + "; ".join(f"**{c}**: {d}" for c, d in CONDITIONS) + ".", "",
          "| music | excerpt | transformation | found (true position) | own span | "
          "true position or verified repeat | right work | missed entirely | mean BER of hits |",
          "|---|---|---|---|---|---|---|---|---|"]
    for kind in ("real", "rendered"):
        for length in sorted({t["length"] for t in trials}):
            for condition, _ in CONDITIONS:
                ts = [t for t in trials if t["kind"] == kind and t["length"] == length and t["condition"] == condition]
                if not ts:
                    continue
                k = sum(t["strict"] for t in ts)
                k_main = sum(t["main"] for t in ts)
                k_rep = sum(t["strict"] or t["outcome"] == "repeat" for t in ts)
                w = sum(t["work"] for t in ts)
                missed = sum(t["outcome"] in ("missed", "sibling only") for t in ts)
                bers = [t["ber"] for t in ts if t["work"]]
                dl.append(f"| {kind} | {length:.0f} s | {condition} | {fmt_rate(k, len(ts))} | "
                          f"{fmt_rate(k_main, len(ts))} | {fmt_rate(k_rep, len(ts))} | "
                          f"{fmt_rate(w, len(ts))} | "
                          f"{missed} | {np.mean(bers) if bers else float('nan'):.3f} |")
    outcomes: dict[str, int] = {}
    for t in trials:
        if not t["strict"]:
            outcomes[t["outcome"]] = outcomes.get(t["outcome"], 0) + 1
    repeats = [t["self_ber"] for t in trials if t["outcome"] == "repeat"]
    dl.append("")
    dl.append(f"Of the {sum(outcomes.values())} excerpts (all kinds) not found at their true position: "
              + ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items()))
              + ". *repeat* = the right work was matched at another position whose reference codes reproduce "
                "the ones at the true position (reference-against-itself BER below the verifier's 0.25 per-frame "
                "threshold" + (f"; measured {min(repeats):.3f}-{max(repeats):.3f}" if repeats else "")
              + "); *elsewhere* = right work, other position, not such a repeat; *sibling only* = only the other "
                "track of a shared-audio pair matched; *missed* = no match to the work. "
              + f"For {sum(bool(t['true_verifies']) for t in trials)} of the "
                f"{sum(t['true_verifies'] is not None for t in trials)} excerpts matched at another position, the "
                "true alignment verifies on its own (`verify` with that single candidate; false-match probability "
                "x16 still below MAX_FALSE_MATCH).")
    wrong = [(t, w) for t in trials for w in t["wrong"]]
    dl.append("")
    dl.append(f"Matches to a wrong work among the {len(trials)} detection queries (the shared-audio pairs excluded): "
              f"**{len({id(t) for t, _ in wrong})}** queries" + (":" if wrong else "."))
    for t, w in wrong[:20]:
        dl.append(f"  * {t['source']} @ {t['start']:.1f} s, {t['length']:.0f} s, {t['condition']} -> {w[0]} "
                  f"(BER {w[1]}, p {w[2]:.1e}, query {w[3]} s, reference {w[4]} s)")
    misses = [t for t in trials if t["kind"] == "real" and t["length"] == 10 and t["outcome"] in ("missed", "elsewhere",
                                                                                                 "sibling only")]
    if misses:
        dl.append("")
        dl.append("10 s real-music excerpts missed or matched at an unexplained position (first 25):")
        for t in misses[:25]:
            dl.append(f"  * {t['source']} @ {t['start']:.1f} s, {t['condition']}: {t['outcome']}"
                      + (f" (self-BER {t['self_ber']:.3f})" if t["self_ber"] is not None else ""))
    crashed = sum(t["crashed"] for t in trials)
    dl.append("")
    dl.append(f"`AudioMatcher.match` raised `ValueError` on {crashed} of {len(trials)} detection queries and on "
              f"{fp['crashes']} of {sum(fp['windows'].values())} false-positive windows"
              + (" (the benchmark screened those again without the candidates that overlap the reference by fewer "
                 "than 9 frames)." if crashed or fp["crashes"] else
                 " (before `verify._stretches()` smoothed with a centred moving sum of the right length, a candidate "
                 "overlapping the reference by fewer than 9 frames raised it: 11 queries and 84 windows in the "
                 "previous run)."))
    total_windows = sum(fp["windows"].values())
    dl.append("")
    dl.append(f"**False positives**: every {'/'.join(f'{int(l)} s' for l in fp['hops'])} window of the "
              f"{fp['sources']} unregistered recordings ({fp['audio_s']['real'] / 60:.1f} min real, "
              f"{fp['audio_s']['rendered'] / 60:.1f} min rendered), stepped by "
              f"{', '.join(f'{h:g} s' for h in fp['hops'].values())} respectively, screened clean against the catalog: "
              f"**{sum(fp['windows_with_match'].values())} of {total_windows} windows** had any match "
              f"({', '.join(f'{k}: {v}' for k, v in fp['by_kind'].items())} windows). The windows overlap, so they are "
              f"not independent trials. The independent ones are the non-overlapping 10 s windows (each recording "
              f"cut at 0, 10, 20 s, ...): {disjoint} of them were screened, "
              + (f"and 0 of {disjoint} bounds the false-positive rate below 3/{disjoint} = {300 / disjoint:.3f}% at 95% "
                 "confidence (the rule of three)." if not k_disjoint else
                 f"{k_disjoint} with a match: {100 * k_disjoint / disjoint:.3f}%."))
    dl.append("")
    dl.append("**How close unrelated music comes**, by null model: the smallest false-match probability of any "
              "stretch behind each window's candidates (`verify` without its threshold; a match needs p <= "
              f"{MAX_FALSE_MATCH:g}), counted over the windows. Were a model calibrated, about a fraction x of the "
              "windows would reach p <= x; fewer means conservative, more means it understates how often unrelated "
              "music gets that close. *shipped* = `fingerprints.verify.NULL_MODEL` as this run found it; *previous* = the "
              "model verify.py shipped before the calibration; *fitted* = the one calibrate_chromaprint.py fitted "
              "(`NULL_MODELS` in scripts/bench/foundation.py). The smallest p is over all windows, 10 s and 30 s.")
    dl.append("")
    dl.append("| model (mean / sd_24 / decay) | windows | " + " | ".join(f"p <= {x:g}" for x in P_LEVELS)
              + " | smallest p (window, BER, seconds) |")
    dl.append("|---|---|" + "---|" * len(P_LEVELS) + "---|")
    for key, counts in fp["reach"].items():
        model, length = key.split("/")
        n = fp["windows"][float(length.rstrip("s"))]
        near = fp["nearest"].get(model)
        near_text = (f"{near['p']:.1e} ({near['source']} @ {near['start']:.0f} s, {near['length']:.0f} s window -> "
                     f"{near['work']}, BER {near['ber']:.3f} over {near['seconds']:.1f} s)" if near else "-")
        dl.append(f"| {model} ({' / '.join(f'{v:g}' for v in fp['models'][model])}), {length} windows | {n} | "
                  + " | ".join(f"{c} ({100 * c / n:.2f}%)" if n else "-" for c in counts.values())
                  + f" | {near_text if length == '10s' else ''} |")
    for h in fp["hits"][:30]:
        dl.append(f"  * {h['source']} window @ {h['start']:.1f} s ({h['length']:.0f} s) -> {h['work']}: BER "
                  f"{h['ber']:.3f}, p {h['p']:.1e}, query {h['query'][0]:.1f}-{h['query'][1]:.1f} s, reference "
                  f"{h['reference'][0]:.1f}-{h['reference'][1]:.1f} s")
    rep.add("\n".join(dl))
    load = ", ".join(f"{v:.2f}" for v in info["load_start"])
    load_end = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    rep.add(f"Whole run: {elapsed / 60:.1f} min. Load average (1/5/15 min) at the start {load}, at the end "
            f"{load_end}: a load above {info['nproc']} means other processes shared the CPUs during the run, "
            f"which inflates the latency and throughput figures.")
    return rep


# -------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~3 minute smoke run (fewer trials, no 50,000 h); "
                        "prints the figures but does not write docs/benchmarks.md")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_worker:
        print(json.dumps(scale_worker(json.loads(args.scale_worker))))
        return
    from guard.observability import configure_logging

    configure_logging(level=logging.WARNING)
    for tool in ("ffmpeg", "sox", "fluidsynth", "fpcalc"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing; run scripts/bench/run, which installs it")
    started = time.perf_counter()
    info = machine_details()
    quick = args.quick
    with tempfile.TemporaryDirectory(prefix="guard-bench-") as tmp:
        folder = Path(tmp)
        log("rendering corpus pieces ...")
        real = real_sources()
        rendered, skipped = rendered_sources(folder / "rendered", quick)
        for s in real + rendered:
            s.seconds = float(run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                   "default=nw=1:nk=1", str(s.path)]).strip())
        log(f"material: {len(real)} real tracks, {len(rendered)} rendered pieces ({len(skipped)} skipped)")

        log("2. import throughput ...")
        thr = import_throughput(real, 1 if quick else 3)
        log(f"  ours {thr['ours_s']:.2f} s, fpcalc {thr['fpcalc_s']:.2f} s, ratio {thr['ratio']:.2f}")

        registered = [s for s in real + rendered if s.registered]
        unregistered = [s for s in real + rendered if not s.registered]
        for n, s in enumerate(registered, 1):
            s.number = n

        log("1. gRPC latency ...")
        by_name = {s.name: s for s in real}
        qdir = folder / "queries"
        qdir.mkdir()
        queries = []
        for seconds, start in ((30.0, 60.0), (180.0, 0.0)):
            for kind in ("ogg", "mp3"):
                for label, src, expect in (("registered", by_name["menu"], "match"),
                                           ("unregistered", by_name["town"], "clear")):
                    data = encode_query(src.path, start, seconds, kind, qdir / f"{label}-{seconds:.0f}.{kind}")
                    queries.append((f"{seconds:.0f} s {kind.upper()}, {label}", expect, data))
        grpc_r = grpc_benchmark(folder, registered, queries, 5 if quick else 30)
        for label, r in grpc_r["latency"].items():
            log(f"  {label}: p50 {r['p50']:.1f} ms p95 {r['p95']:.1f} ms {r['stage_p50']} {r['verdict_counts']}")
        log(f"  RegisterWork {grpc_r['register_rate']:.0f}x real time")

        log("5. detection ...")
        references: dict[int, np.ndarray] = {}
        for s in registered:
            references[s.number], _ = decode_codes(s.path.read_bytes())
        matcher = fingerprints.AudioMatcher.build(references.items())
        real_refs = {s.number: references[s.number] for s in registered if s.kind == "real"}
        unreg_real_refs = {}
        for s in real:
            if not s.registered:
                unreg_real_refs[s.name], _ = decode_codes(s.path.read_bytes())
        all_real = fingerprints.AudioMatcher.build(
            list(real_refs.items()) + [(1000 + i, c) for i, c in enumerate(unreg_real_refs.values())])
        mem = {}
        all_refs = {**real_refs, **{1000 + i: c for i, c in enumerate(unreg_real_refs.values())}}
        for label, m, sources, refs in (("all 16 real tracks", all_real, real, all_refs),
                                        ("detection catalog (registered real + rendered)", matcher, registered,
                                         references)):
            sizes = np.array([m.index._index.invlists.list_size(i) for i in range(m.index.lists)])
            mem[label] = {"hours": sum(s.seconds for s in sources) / 3600, "index": m.index.memory_bytes(),
                          "refs": m.reference_bytes(), "vectors": m.index.size, "lists": m.index.lists,
                          "list_max": int(sizes.max()), "list_mean": float(sizes.mean()),
                          "probed_ratio": probed_list_ratio(m.index, refs, np.random.default_rng(args.seed))}
        counts = {10.0: 3, 30.0: 1} if quick else {10.0: 12, 30.0: 6}
        counts_r = {10.0: 2, 30.0: 1} if quick else {10.0: 6, 30.0: 3}
        trials = detection(matcher, registered, references, counts, counts_r, folder, args.seed)
        for condition, _ in CONDITIONS:
            for length in (10.0, 30.0):
                ts = [t for t in trials if t["kind"] == "real" and t["condition"] == condition and t["length"] == length]
                log(f"  real {length:.0f} s {condition}: {sum(t['strict'] for t in ts)}/{len(ts)} at true position, "
                    f"{sum(t['work'] for t in ts)}/{len(ts)} right work")
        log("5. false positives ...")
        fp = false_positives(matcher, references, {s.number: s for s in registered}, unregistered,
                             {10.0: 5.0, 30.0: 15.0} if quick else {10.0: 2.0, 30.0: 5.0})
        log(f"  {sum(fp['windows_with_match'].values())} of {sum(fp['windows'].values())} windows matched")
        del matcher, all_real

    log("4. candidate search at scale ...")
    scale = scale_section(scale_plan(quick, 20 if quick else 100))
    elapsed = time.perf_counter() - started
    rep = build_report(args, info, real, rendered, skipped, thr, grpc_r, mem, scale, trials, fp, elapsed)
    command = command_line(sys.argv[1:])
    head = (f"## Foundation: screening latency, import throughput, index memory and scale, detection\n\n"
            f"Command: `{command}` ({info['machine']}; {info['nproc']} CPUs, {info['mem_gib']:.1f} GiB RAM; started "
            f"{info['started']}; commit {info['commit']})  \nTools: {info['versions']}\n")
    text = rep.markdown(head)
    print(text)
    if quick:
        log("--quick: figures printed only; docs/benchmarks.md not written")
    else:
        from _report import write_section

        write_section("foundation", text)
        log("written to docs/benchmarks.md (section foundation)")


if __name__ == "__main__":
    main()
