"""Pitch- and tempo-robust audio benchmark: the landmark fingerprint beside the Chromaprint path.

Detection of 10 s excerpts of registered music under everyday processing, pitch shift, tempo and speed
changes, reverb and mixing under other music; three stitched fragments; a 5 s quotation inside 3 minutes
of other music. False positives on non-overlapping 10 s windows of unregistered music (clean, +2
semitones, +10% tempo) and on signals that must never match. Both fingerprints see the very same query
bytes. Then screening latency of 3-minute tracks over gRPC (both fingerprints run), per-stage CPU time,
index memory per hour, and candidate search at 500 and 5,000 hours.

Real produced music: the Ogg soundtracks of Debian's freedroidrpg-data. Rendered music: pieces of
music21's corpus written to MIDI and rendered with FluidSynth and the FluidR3 GM soundfont (cached in
GUARD_BENCH_CACHE, default ~/.cache/guard-bench/landmarks). Nothing is downloaded.

Run: scripts/bench/run-landmarks [--quick]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import guard  # noqa: E402,F401 - first: the service's thread defaults (guard/__init__.py) before numpy and FAISS load

# isort: split
import _report  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

import fingerprints  # noqa: E402
from fingerprints import landmarks  # noqa: E402
from fingerprints.landmarks.hashes import query_constellations, reference_constellations  # noqa: E402
from fingerprints.landmarks.index import FIRST_BASE, LandmarkIndex, _Segment, directory_bits  # noqa: E402

MUSIC = Path("/usr/share/freedroidrpg/data/sound/music")
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
RATE = 22_050
"""Material and transformations run at 22.05 kHz; queries are decoded to 11,025 Hz as the service does."""
UNREGISTERED_REAL = ["Ambience", "Suspicion", "temple", "underground"]
TWINS = {"AmbientBattle": "TechBattle", "TechBattle": "AmbientBattle",
         "HellFortressEntrance": "HellFortressTwo", "HellFortressTwo": "HellFortressEntrance"}
"""Real tracks that share audio (20-28 s of one reproduce the other); a match between them counts as right."""
PROGRAMS = [0, 6, 19, 24, 40, 42, 48, 52, 56, 60, 68, 71, 73, 11, 4, 46]
EXCERPT_S = 10.0
EXCERPT_FRACTIONS = (0.1, 0.37, 0.63, 0.9)
SEMITONE = 2 ** (1 / 12)

CONDITIONS: dict[str, tuple[str, object, float, float]] = {
    # name: (kind, argument, pitch shift in semitones, tempo ratio)
    "clean": ("sox", [], 0.0, 1.0),
    "MP3 64 kbps": ("mp3", "64k", 0.0, 1.0),
    "low-pass 3.5 kHz + EQ": ("sox", ["lowpass", "3500", "bass", "+6", "equalizer", "1500", "2q", "-6"], 0.0, 1.0),
    "white noise at 10 dB SNR": ("noise", 10.0, 0.0, 1.0),
    "gain -12 dB": ("sox", ["gain", "-12"], 0.0, 1.0),
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
    "stereo, one channel inverted": ("inverted", None, 0.0, 1.0),
    "mixed under other music at -6 dB": ("mix", -6.0, 0.0, 1.0),
    "mixed under other music at 0 dB": ("mix", 0.0, 0.0, 1.0),
}
TARGETS = {c: 0.95 for c in CONDITIONS} | {"mixed under other music at 0 dB": 0.90, "tempo +10%": 0.90,
                                             "tempo -10%": 0.90}
FP_CONDITIONS = {"clean": [], "pitch +2 st": ["pitch", "200"], "tempo +10%": ["tempo", "1.10"]}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- material

@dataclass(frozen=True)
class Work:
    number: int
    name: str
    path: Path
    split: str
    """registered | unregistered | negative (extra unregistered material for the false-positive count)"""
    seconds: float


def cache_dir() -> Path:
    return Path(os.environ.get("GUARD_BENCH_CACHE", Path.home() / ".cache" / "guard-bench" / "landmarks"))


def material(quick: bool, negative_hours: float) -> list[Work]:
    """Real tracks and rendered corpus pieces as 22.05 kHz mono WAV, with their split (cached)."""
    data = cache_dir()
    (data / "real").mkdir(parents=True, exist_ok=True)
    (data / "midi").mkdir(parents=True, exist_ok=True)
    items: list[tuple[str, Path, str]] = []
    for path in sorted(MUSIC.glob("*.ogg")):
        wav = data / "real" / (path.stem + ".wav")
        if not wav.exists():
            subprocess.run(["sox", str(path), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
        items.append((path.stem, wav, "unregistered" if path.stem in UNREGISTERED_REAL else "registered"))
    if len(items) != 16:
        raise SystemExit(f"expected the 16 Ogg tracks of freedroidrpg-data in {MUSIC}, found {len(items)}")
    chosen = _pieces()[: 24 if quick else None]
    rendered = []
    for number, path in enumerate(chosen):
        wav = _render(path, f"m{number:03d}")
        if wav is not None and sf.info(str(wav)).duration >= 25.0:
            rendered.append((wav.stem, wav, path))
    rng = random.Random(11)
    rng.shuffle(rendered)
    third = len(rendered) // 3
    registered_sources = {source for _, _, source in rendered[:third]}
    items += [(name, wav, "registered" if i < third else "unregistered") for i, (name, wav, _) in enumerate(rendered)]
    hours = 0.0
    for k, path in enumerate(_negative_pieces(registered_sources)):
        if hours >= negative_hours:
            break
        wav = _render(path, f"n{k:04d}")
        if wav is None:
            continue
        seconds = sf.info(str(wav)).duration
        if seconds >= 12.0:
            items.append((wav.stem, wav, "negative"))
            hours += seconds / 3600
    return [Work(i, name, wav, split, sf.info(str(wav)).duration) for i, (name, wav, split) in enumerate(items)]


PIECES = {"bach": 40, "beethoven": 8, "mozart": 8, "haydn": 6, "monteverdi": 12, "palestrina": 12,
          "ryansMammoth": 20, "trecento": 8, "schumann_robert": 3, "josquin": 4, "joplin": 1,
          "chopin": 1, "handel": 1, "corelli": 1, "schubert": 1, "weber": 1, "verdi": 1, "cpebach": 1,
          "airdsAirs": 3, "schumann_clara": 3, "beach": 1}
"""Pieces per music21 corpus group for the catalog's rendered half and its background."""


def _pieces() -> list[str]:
    """A deterministic, varied choice from music21's corpus (the catalog's rendered half and its background)."""
    groups = shuffled_corpus()
    return [path for group, n in PIECES.items() for path in groups[group][:n]]


@functools.cache
def shuffled_corpus() -> dict[str, list[str]]:
    """The renderable files of each PIECES group of music21's corpus, in a fixed shuffled order (further
    choices take files after the first PIECES[group], so they never overlap the benchmark's)."""
    from music21 import corpus
    rng = random.Random(7)
    by_group: dict[str, list[str]] = defaultdict(list)
    for p in corpus.getPaths():
        s = str(p)
        if "dichterliebe" in s:  # the corpus holds Dichterliebe no. 2 twice (also schumann_robert/opus48no2)
            continue
        by_group[s.split("/corpus/")[1].split("/")[0]].append(s)
    out = {}
    for group in PIECES:
        files = sorted(f for f in by_group.get(group, []) if f.endswith((".mxl", ".xml", ".krn", ".musicxml", ".abc")))
        rng.shuffle(files)
        out[group] = files
    return out


def _negative_pieces(registered_sources: set[str]) -> list[str]:
    """Palestrina mass movements of masses with no movement in the catalog (movements of one mass share
    material), in a fixed shuffled order: hours of unregistered polyphony for the false-positive count."""
    from music21 import corpus
    def mass(path: str) -> str:
        found = re.search(r"_(\d+)", Path(path).stem)
        return found.group(1) if found else Path(path).stem
    taken = {mass(s) for s in registered_sources if "/palestrina/" in s}
    files = sorted(str(p) for p in corpus.getComposer("palestrina") if mass(str(p)) not in taken)
    random.Random(13).shuffle(files)
    return files


def _render(path: str, stem: str) -> Path | None:
    from music21 import corpus, instrument, stream
    folder = cache_dir() / "midi"
    wav = folder / f"{stem}.wav"
    failed = folder / f"{stem}.failed"
    if wav.exists():
        try:
            sf.info(str(wav))
            return wav
        except sf.LibsndfileError:
            wav.unlink()  # left half-written by an interrupted run: render again
    if failed.exists():
        return None
    # Scratch files are this process's own: two processes rendering one piece at once (a parallel warm-up of
    # the cache) shared them once, and the loser was marked failed, which re-dealt the catalog's split.
    mine = f"{stem}.{os.getpid()}"
    mid, raw, partial = (folder / f"{mine}.{ext}" for ext in ("mid", "raw.wav", "partial.wav"))
    try:
        score = corpus.parse(path)
        if hasattr(score, "scores"):  # an opus of folk tunes: join its first few tunes
            tunes = list(score.scores)[:6]
            score = tunes[0]
            if len(tunes) > 1:
                joined, flat = stream.Score(), stream.Part()
                for tune in tunes:
                    for n in tune.flatten().notesAndRests:
                        flat.append(n)
                joined.insert(0, flat)
                score = joined
        measures = len(score.parts[0].getElementsByClass("Measure")) if score.parts else 0
        if score.highestTime > 400 and measures:
            score = score.measures(1, max(1, int(measures * 400 / score.highestTime)))
        rng = random.Random(stem)
        for part in score.parts:
            for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
                old.activeSite.remove(old)
            inst = instrument.Instrument()
            inst.midiProgram = rng.choice(PROGRAMS)
            part.insert(0, inst)
        score.write("midi", fp=str(mid))
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-F", str(raw), "-r", "44100", SOUNDFONT, str(mid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
                       preexec_fn=_limit_file_size)
        subprocess.run(["sox", "--ignore-length", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(partial),
                        "silence", "1", "0.05", "0.5%", "reverse", "silence", "1", "0.05", "0.5%", "reverse",
                        "trim", "0", "180", "norm", "-3"], check=True, stderr=subprocess.DEVNULL)
        os.replace(partial, wav)  # a reader sees a whole file or none
    except Exception as exc:  # a corpus file music21 cannot read or write, or a render that fails: skipped
        failed.write_text(f"{path}: {type(exc).__name__}: {exc}")
        wav.unlink(missing_ok=True)
        return None
    finally:
        for scratch in (mid, raw, partial):
            scratch.unlink(missing_ok=True)
    return wav


def _limit_file_size() -> None:
    """A corpus score with a stuck note makes fluidsynth render forever; stop it at ~8 minutes of audio."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (80 << 20, 80 << 20))


def read(work: Work, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    a = int(start * RATE)
    b = None if seconds is None else a + int(seconds * RATE)
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


def mp3(x: np.ndarray, bitrate: str, *, release: bool = False) -> bytes:
    """MP3 of the material as is (22.05 kHz mono), or with `release` as a generator publishes a track: 44.1 kHz
    stereo, which costs the service twice the decoding (measured: 310 against 145 ms for 3 minutes)."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.wav"), os.path.join(d, "out.mp3")
        sf.write(src, np.clip(x, -1, 1), RATE, subtype="PCM_16")
        layout = ["-ar", "44100", "-ac", "2"] if release else []
        subprocess.run(["ffmpeg", "-loglevel", "error", "-i", src, *layout, "-b:a", bitrate, dst], check=True)
        return Path(dst).read_bytes()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def transform(x: np.ndarray, condition: str, rng: np.random.Generator, backgrounds: list[Work]) -> bytes:
    kind, arg, _, _ = CONDITIONS[condition]
    if kind == "sox":
        return wav_bytes(sox(x, arg) if arg else x)
    if kind == "mp3":
        return mp3(x, arg)
    if kind == "inverted":  # sounds the same on speakers; the channels' sum is silence
        return wav_bytes(np.stack([x, -x], axis=1))
    if kind == "noise":
        noise = rng.standard_normal(len(x)).astype(np.float32)
        y = x + noise * rms(x) / rms(noise) * 10 ** (-arg / 20)
        return wav_bytes(y / max(1.0, float(np.abs(y).max()) / 0.95))
    bed = backgrounds[int(rng.integers(len(backgrounds)))]
    start = float(rng.uniform(0, max(0.0, bed.seconds - len(x) / RATE - 0.5)))
    b = read(bed, start, len(x) / RATE + 0.1)[: len(x)]
    b = np.pad(b, (0, len(x) - len(b)))
    y = x + b * (rms(x) / rms(b)) * 10 ** (arg / 20)
    peak = float(np.max(np.abs(y)))
    return wav_bytes(y / peak * 0.95 if peak > 0.95 else y)


# -------------------------------------------------------------------------------------------- queries

@dataclass(frozen=True)
class Piece:
    """`seconds` of work `work` from `source_start`, placed at `query_start` for `query_seconds` after re-timing."""

    work: str
    source_start: float
    query_start: float
    query_seconds: float
    pitch: float = 0.0
    tempo: float = 1.0


@dataclass(frozen=True)
class Query:
    condition: str
    pieces: tuple[Piece, ...]
    data: bytes


def excerpt_queries(registered: list[Work], backgrounds: list[Work]):
    rng = np.random.default_rng(2024)
    for w in registered:
        source = read(w)
        for frac in EXCERPT_FRACTIONS:
            start = round(frac * (w.seconds - EXCERPT_S), 2)
            x = source[int(start * RATE): int((start + EXCERPT_S) * RATE)]
            for c, (_, _, pitch, tempo) in CONDITIONS.items():
                yield Query(c, (Piece(w.name, start, 0.0, EXCERPT_S / tempo, pitch, tempo),),
                            transform(x, c, rng, backgrounds))


def stitched_queries(registered: list[Work]):
    """Three 5 s fragments: of one work (out of order), of three works, and of three works processed
    differently (+1 semitone, 5% slower, clean), so each fragment must get its own transform."""
    n = len(registered)
    fade = int(0.01 * RATE)
    for i, w in enumerate(registered):
        one = [(w, f) for f in (0.85, 0.15, 0.5)]
        three = [(registered[(i + k * 17) % n], (0.3, 0.6, 0.45)[k]) for k in range(3)]
        for name, parts, effects in (("3 stitched fragments of one work", one, [[], [], []]),
                                     ("3 stitched fragments of three works", three, [[], [], []]),
                                     ("3 stitched fragments of three works, +1 st / -5% tempo / clean", three,
                                      [["pitch", "100"], ["tempo", "0.95"], []])):
            pieces, audio, at = [], [], 0.0
            for (work, frac), effect in zip(parts, effects):
                start = round(frac * (work.seconds - 5.0), 2)
                y = read(work, start, 5.0)
                y = sox(y, effect) if effect else y
                y = y * (0.1 / rms(y))
                y[:fade] *= np.linspace(0, 1, fade)
                y[-fade:] *= np.linspace(1, 0, fade)
                pieces.append(Piece(work.name, start, at, len(y) / RATE, 1.0 if effect == ["pitch", "100"] else 0.0,
                                    0.95 if effect == ["tempo", "0.95"] else 1.0))
                audio.append(y)
                at += len(y) / RATE
            yield Query(name, tuple(pieces), wav_bytes(np.concatenate(audio)))


def quote_queries(registered: list[Work], beds: list[Work], count: int):
    """A 5 s quotation of a registered work at a random place in 3 minutes of unregistered music (MP3)."""
    rng = np.random.default_rng(5)
    fade = int(0.02 * RATE)
    for i in range(count):
        parts, total = [], 0
        for j in rng.permutation(len(beds)):
            x = read(beds[j])
            parts.append(x)
            total += len(x)
            if total >= 180 * RATE:
                break
        bed = np.concatenate(parts)[: 180 * RATE]
        w = registered[i % len(registered)]
        start = round(float(rng.uniform(0.1, 0.9)) * (w.seconds - 5.0), 2)
        quote = read(w, start, 5.0)
        at = round(float(rng.uniform(20, min(150, len(bed) / RATE - 10))), 2)
        a = int(at * RATE)
        quote = quote * (rms(bed[a: a + len(quote)]) / rms(quote))
        quote[:fade] *= np.linspace(0, 1, fade)
        quote[-fade:] *= np.linspace(1, 0, fade)
        bed[a: a + len(quote)] *= np.concatenate([np.linspace(1, 0, fade), np.zeros(len(quote) - 2 * fade),
                                                  np.linspace(0, 1, fade)])
        bed[a: a + len(quote)] += quote
        yield Query("5 s quotation inside 3 minutes of other music", (Piece(w.name, start, at, 5.0),),
                    mp3(bed, "128k"))


# --------------------------------------------------------------------------------------------- judging

class Catalog:
    """Both matchers over the registered works, fed exactly what the service feeds them."""

    def __init__(self, registered: list[Work]) -> None:
        self.numbers: dict[str, int] = {w.name: w.number for w in registered}
        self.peaks: dict[int, landmarks.LandmarkFingerprint] = {}
        codes: dict[int, np.ndarray] = {}
        for w in registered:
            audio = decode(wav_bytes(read(w)))
            self.peaks[w.number] = landmarks.fingerprint(audio.samples)
            codes[w.number] = fingerprints.fingerprint(audio).codes
        self.landmarks = landmarks.LandmarkMatcher.build(self.peaks.items())
        self.chromaprint = fingerprints.AudioMatcher.build(codes.items())
        self.hours = sum(w.seconds for w in registered) / 3600

    def match(self, data: bytes) -> dict[str, list]:
        audio = decode(data)
        return {"landmarks": self.landmarks.match(landmarks.query(audio.samples)),
                "chromaprint": self.chromaprint.match(fingerprints.fingerprint(audio).codes)}

    def landmark_miss(self, data: bytes, work_number: int) -> str:
        """Which landmark stage lost a work the query holds: no candidate (none of its keys survived in
        enough numbers), no transform (its hits did not line up), or verification found it too weakly."""
        query = landmarks.query(decode(data).samples)
        if work_number not in {c.work_number for c in self.landmarks.index.candidates(query_constellations(query.peaks))}:
            return "no candidate"
        if not any(m.work_number == work_number for m in self.landmarks.examine(query)):
            return "no transform"
        return "too weak"


def decode(data: bytes) -> fingerprints.Audio:
    return fingerprints.decode(data, sample_rate=fingerprints.SAMPLE_RATE, max_seconds=900)


def judge(query: Query, matches: list, numbers: dict[str, int]) -> tuple[list[dict], int]:
    """Per fragment: found when a match of the right work (or its twin) overlaps the fragment by at least half
    its length or 2.5 s, whichever is less; with the reference start and transform errors. Also how many
    matches name a work that is in no fragment."""
    out = []
    for piece in query.pieces:
        right = {numbers[piece.work]} | ({numbers[TWINS[piece.work]]} if piece.work in TWINS else set())
        best = None
        for m in matches:
            overlap = min(m.query_end, piece.query_start + piece.query_seconds) - max(m.query_start, piece.query_start)
            if m.work_number in right and overlap >= min(0.5 * piece.query_seconds, 2.5):
                if best is None or overlap > best[0]:
                    best = (overlap, m)
        entry: dict = {"found": best is not None}
        if best is not None:
            m = best[1]
            expected = piece.source_start + (m.query_start - piece.query_start) * piece.tempo
            entry.update(ref_error=abs(m.reference_start - expected),
                         pitch_error=abs(getattr(m, "pitch_shift", 0.0) - piece.pitch),
                         tempo_error=abs(getattr(m, "tempo_ratio", 1.0) - piece.tempo))
        out.append(entry)
    pieces_works = set()
    for p in query.pieces:
        pieces_works |= {numbers[p.work]} | ({numbers[TWINS[p.work]]} if p.work in TWINS else set())
    return out, sum(m.work_number not in pieces_works for m in matches)


def detection(catalog: Catalog, registered: list[Work], backgrounds: list[Work], quotes: int) -> dict:
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    wrong: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    missed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    queries = 0
    for generator in (excerpt_queries(registered, backgrounds), stitched_queries(registered),
                      quote_queries(registered, backgrounds, quotes)):
        for q in generator:
            found = catalog.match(q.data)
            found["either (as the service screens)"] = found["landmarks"] + found["chromaprint"]
            for name, matches in found.items():
                pieces, bad = judge(q, matches, catalog.numbers)
                rows[q.condition][name] += pieces
                wrong[q.condition][name] += bad
                if name == "landmarks":
                    for piece, judged in zip(q.pieces, pieces):
                        if not judged["found"]:
                            missed[q.condition][catalog.landmark_miss(q.data, catalog.numbers[piece.work])] += 1
            queries += 1
            if queries % 200 == 0:
                log(f"detection: {queries} queries")
    table = {}
    for condition, by in rows.items():
        table[condition] = {}
        for name, pieces in by.items():
            found = [p for p in pieces if p["found"]]
            table[condition][name] = {
                "fragments": len(pieces), "found": len(found), "wrong_work_matches": wrong[condition][name],
                "missed_at": dict(missed[condition]) if name == "landmarks" else None,
                "ref_within_1_5s": sum(p["ref_error"] <= 1.5 for p in found),
                "pitch_error_p95": float(np.quantile([p["pitch_error"] for p in found], 0.95)) if found else None,
                "tempo_error_p95": float(np.quantile([p["tempo_error"] for p in found], 0.95)) if found else None,
            }
    return table


def windows(work: Work, first: float, hop: float) -> Iterator[tuple[float, np.ndarray]]:
    """(start in seconds, EXCERPT_S seconds of samples) every `hop` seconds from `first`, while whole."""
    x = read(work)
    for s in np.arange(first, work.seconds - EXCERPT_S + 1e-9, hop):
        yield float(s), x[int(s * RATE): int((s + EXCERPT_S) * RATE)]


def false_positives(catalog: Catalog, negatives: list[Work]) -> dict:
    """Non-overlapping 10 s windows of music that is not in the catalog, as is and re-pitched / re-timed."""
    trials: dict[str, int] = defaultdict(int)
    false: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    count = 0
    for w in negatives:
        for s, seg in windows(w, 0.0, EXCERPT_S):
            for condition, effect in FP_CONDITIONS.items():
                found = catalog.match(wav_bytes(sox(seg, effect) if effect else seg))
                trials[condition] += 1
                for name, matches in found.items():
                    if matches:
                        false[condition][name].append(f"{w.name}@{s:.0f}s -> " + ", ".join(
                            f"work {m.work_number} p={m.false_match_probability:.1e}" for m in matches))
            count += 1
            if count % 500 == 0:
                log(f"false positives: {count} windows")
    synthetic = {}
    for name, audio in synthetic_signals().items():
        found = catalog.match(wav_bytes(audio))
        synthetic[name] = {k: len(v) for k, v in found.items()}
    return {"trials": dict(trials), "false": {c: dict(v) for c, v in false.items()}, "synthetic": synthetic}


def synthetic_signals() -> dict[str, np.ndarray]:
    """Signals that must never match: silence, dither, tones, chords, sweeps, sine melodies, noise, drum loops."""
    rng = np.random.default_rng(9)
    t = np.arange(int(10 * RATE)) / RATE
    out = {"digital silence": np.zeros_like(t, dtype=np.float32),
           "dither -80 dBFS": (rng.standard_normal(len(t)) * 1e-4).astype(np.float32)}
    for f in (110, 440, 1000, 3000):
        out[f"sine {f} Hz"] = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
    out["sine chord A-C#-E"] = (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (440, 554.37, 659.25))).astype(np.float32)
    out["sine sweep 100 Hz-4 kHz"] = (0.5 * np.sin(2 * np.pi * 100 * (40 ** (t / 10) - 1) * 10 / np.log(40))
                                      ).astype(np.float32)
    for k in range(3):
        notes = 220 * SEMITONE ** rng.integers(0, 24, 40)
        out[f"sine melody {k}"] = np.concatenate(
            [0.4 * np.sin(2 * np.pi * f * t[: len(t) // 40]) for f in notes]).astype(np.float32)
    out["white noise"] = (0.3 * rng.standard_normal(len(t))).astype(np.float32)
    walk = np.cumsum(rng.standard_normal(len(t)))
    out["brown noise"] = (0.3 * (walk - np.convolve(walk, np.ones(2000) / 2000, "same")) / np.std(walk)
                          ).astype(np.float32)
    for bpm in (90, 120, 140):
        out[f"drum loop {bpm} bpm"] = _drums(bpm, rng)
    return out


def _drums(bpm: int, rng: np.random.Generator) -> np.ndarray:
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


# ------------------------------------------------------------------------------------- speed and memory

def stage_times(catalog: Catalog, tracks: list[Work]) -> dict[str, list[float]]:
    """CPU time of one thread per stage for 3-minute MP3s (immune to other jobs on the machine)."""
    rows: dict[str, list[float]] = defaultdict(list)
    for w in tracks:
        data = mp3(read(w, 0.0, 180.0), "128k", release=True)
        for _ in range(2):  # the second pass is the one kept: caches warm, as in a running server
            t0 = time.process_time()
            audio = decode(data)
            t1 = time.process_time()
            codes = fingerprints.fingerprint(audio).codes
            t2 = time.process_time()
            catalog.chromaprint.match(codes)
            t3 = time.process_time()
            query = landmarks.query(audio.samples)
            t4 = time.process_time()
            catalog.landmarks.match(query)
            t5 = time.process_time()
        for k, v in (("decode", t1 - t0), ("Chromaprint fingerprint", t2 - t1), ("Chromaprint match", t3 - t2),
                     ("landmark fingerprint", t4 - t3), ("landmark match", t5 - t4), ("all stages", t5 - t0)):
            rows[k].append(v * 1000)
    return rows


def grpc_latency(registered: list[Work], tracks: list[Work], runs: int) -> dict:
    """Screen 3-minute MP3s through a real server (TLS, auth, storage, both fingerprints, policy, signing)."""
    from guard import server
    from guard.client import connect
    from guard.config import MIB, Settings
    from guard.v1 import catalog_pb2, catalog_pb2_grpc, screening_pb2, screening_pb2_grpc

    with tempfile.TemporaryDirectory(prefix="guard-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        running = server.start(Settings(data_dir=data_dir, listen="127.0.0.1:0", metrics_listen=None))
        address = f"localhost:{running.port}"
        try:
            conn = connect(data_dir, "catalog", server=address)
            stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
            for w in registered:
                data = mp3(read(w), "192k")
                details = catalog_pb2.WorkDetails(work_id=w.name[:64], title=w.name, rights_holder="bench")
                stub.RegisterWork(iter([catalog_pb2.RegisterWorkRequest(work=details, recording_chunk=data[:MIB])] + [
                    catalog_pb2.RegisterWorkRequest(recording_chunk=data[i:i + MIB])
                    for i in range(MIB, len(data), MIB)]), metadata=conn.metadata)
            conn.close()
            pipeline = connect(data_dir, "pipeline", server=address)
            screen = screening_pb2_grpc.ScreeningServiceStub(pipeline.channel)
            generation = screening_pb2.Generation(model_id="bench-model", model_version="1", pipeline_id="bench")
            queries = [mp3(read(w, 0.0, 180.0), "128k", release=True) for w in tracks]
            walls: list[float] = []
            stages: dict[str, list[float]] = defaultdict(list)
            for data in queries[:2]:
                screen.Screen(screening_pb2.ScreenRequest(audio=data, generation=generation), metadata=pipeline.metadata)
            for _ in range(runs):
                for data in queries:
                    t0 = time.perf_counter()
                    response = screen.Screen(screening_pb2.ScreenRequest(audio=data, generation=generation),
                                             metadata=pipeline.metadata)
                    walls.append((time.perf_counter() - t0) * 1000)
                    for t in response.timings:
                        stages[t.stage].append(t.milliseconds)
            pipeline.close()
        finally:
            running.stop(2.0)
    return {"walls": walls, "stages": {k: float(np.median(v)) for k, v in stages.items()},
            "tracks": len(tracks), "works": len(registered)}


def memory(catalog: Catalog) -> dict:
    index = catalog.landmarks.index
    hours = catalog.hours
    resident = sum(fp.peaks.nbytes for fp in catalog.peaks.values())
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "landmarks.npz"
        t0 = time.perf_counter()
        catalog.landmarks.save(path)
        t1 = time.perf_counter()
        again = landmarks.LandmarkMatcher.load(path, catalog.peaks.items())
        t2 = time.perf_counter()
        file_bytes = path.stat().st_size
    t3 = time.perf_counter()
    landmarks.LandmarkMatcher.build(catalog.peaks.items())
    build_s = time.perf_counter() - t3
    return {"hours": hours, "postings": index.size, "index_bytes": index.memory_bytes(), "resident_bytes": resident,
            "file_bytes": file_bytes, "save_s": t1 - t0, "load_s": t2 - t1, "build_s": build_s,
            "reloaded_same": again.index.size == index.size,
            "peaks_per_s": sum(len(fp.peaks) for fp in catalog.peaks.values()) / hours / 3600}


def scale(catalog: Catalog, registered: list[Work], unregistered: list[Work], hours_list: list[int]) -> list[dict]:
    """Candidate search over synthetic postings plus the real catalog.

    Synthetic keys take 1/c distinct values, c being the rate at which a lookup of an unrelated real query
    hits a real posting (measured here), so a lookup returns as many postings as it would in a real catalog
    of that size; positions are uniform over a frame line cut into 3-minute works. The real catalog is added
    after it, so excerpt queries can also say whether their work still reaches the candidates.
    """
    real = catalog.landmarks.index
    rate = real.size / catalog.hours / 3600
    lookups = hits = 0
    for w in unregistered[:30]:
        for s in (0.2, 0.6):
            q = query_constellations(landmarks.fingerprint(decode(wav_bytes(read(w, s * (w.seconds - 10), 10.0))).samples))
            rows, _ = real._lookup(q.keys)
            lookups += len(q)
            hits += len(rows)
    c = hits / max(lookups, 1) / real.size
    distinct = int(round(1 / c))
    rng = np.random.default_rng(1)
    probes = []
    for w in registered[::2]:
        start = 0.5 * (w.seconds - EXCERPT_S)
        x = read(w, start, EXCERPT_S)
        for condition in ("clean", "pitch +2 st", "tempo -10%", "mixed under other music at 0 dB"):
            peaks = landmarks.fingerprint(decode(transform(x, condition, rng, unregistered)).samples)
            probes.append((w.number, query_constellations(peaks)))
    out = []
    for hours in hours_list:
        n = int(rate * hours * 3600)
        t0 = time.time()
        frames = int(hours * 3600 / landmarks.FRAME_S)
        segment = _synthetic_segment(n, distinct, frames, np.random.default_rng(hours))
        work_frames = int(180 / landmarks.FRAME_S)
        works = {-(i + 1): (FIRST_BASE + i * work_frames, work_frames) for i in range(frames // work_frames + 1)}
        index = LandmarkIndex([segment], works, FIRST_BASE + len(works) * work_frames + 1)
        index.add_many([(num, reference_constellations(fp), int(fp.frames[-1]) + 1)
                        for num, fp in catalog.peaks.items()])
        build_s = time.time() - t0
        times, recall = [], []
        for number, probe in probes:
            t1 = time.perf_counter()
            candidates = index.candidates(probe)
            times.append((time.perf_counter() - t1) * 1000)
            recall.append(any(cand.work_number == number for cand in candidates))
        out.append({"hours": hours, "postings": index.size, "index_gib": index.memory_bytes() / 2 ** 30,
                    "build_s": build_s, "p50": float(np.median(times)), "p95": float(np.quantile(times, 0.95)),
                    "queries": len(times), "recall": float(np.mean(recall)), "collision_rate": c})
        log(f"scale {hours} h: p95 {out[-1]['p95']:.1f} ms")
        del index, segment
    return out


def _synthetic_segment(n: int, distinct: int, frames: int, rng: np.random.Generator) -> _Segment:
    values = np.unique(((np.arange(distinct, dtype=np.uint64) + np.uint64(0x5BD1E995)) * np.uint64(0x9E3779B97F4A7C15)
                        >> np.uint64(32)).astype(np.uint32))
    counts = rng.poisson(n / len(values), len(values)).astype(np.int64)
    bits = directory_bits(int(counts.sum()))
    buckets = np.bincount((values >> np.uint32(32 - bits)).astype(np.int64), weights=counts,
                          minlength=1 << bits).astype(np.int64)
    directory = np.zeros((1 << bits) + 1, dtype=np.uint32 if counts.sum() < 1 << 32 else np.int64)
    np.cumsum(buckets, out=directory[1:])
    residues = np.repeat((values & np.uint32(0xFFFF)).astype(np.uint16), counts)
    positions = rng.integers(FIRST_BASE, FIRST_BASE + frames, len(residues), dtype=np.uint32)
    return _Segment(directory, residues, positions)


# --------------------------------------------------------------------------------------------- report

def _missed(stages: dict[str, int] | None) -> str:
    if stages is None:
        return "not measured"
    return " / ".join(str(stages.get(k, 0)) for k in ("no candidate", "no transform", "too weak"))


def pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.1f}%)" if n else "n/a"


def upper_bound(events: int, trials: int) -> float:
    """One-sided 95% (Clopper-Pearson) upper bound on a rate after `events` in `trials`."""
    from scipy.stats import beta
    return 1.0 if events >= trials else float(beta.ppf(0.95, events + 1, trials - events))


def build_report(args, started: str, commit: str, works: list[Work], detect: dict, fps: dict, stages: dict,
                 grpc: dict, mem: dict, scaled: list[dict]) -> str:
    registered = [w for w in works if w.split == "registered"]
    background = [w for w in works if w.split == "unregistered"]
    negatives = [w for w in works if w.split in ("unregistered", "negative")]
    lines = [
        "## Pitch- and tempo-robust audio: landmark fingerprint beside Chromaprint",
        "",
        f"Command: `scripts/bench/run-landmarks{' --quick' if args.quick else ''}` ({started}; commit "
        f"{commit}; " + (f"steps run then: {', '.join(args.steps)}; the others from the previous run's cached "
                            "results, same command)  " if args.steps else
                            "this table rebuilt from the cached results of that run by `--steps` with none)  "),
        f"Catalog: {len(registered)} works, {sum(w.seconds for w in registered) / 3600:.2f} h (12 freedroidrpg-data "
        f"soundtracks and {len(registered) - 12} rendered music21 corpus pieces). Mixing beds and stitched-query "
        f"backgrounds: {len(background)} unregistered pieces. Queries are WAV at 22.05 kHz unless said, made with "
        "sox (pitch, tempo, speed, reverb, EQ), ffmpeg (MP3) and numpy (noise, mixing); both fingerprints see the "
        "same bytes, decoded by the service's decoder.",
        "",
        "A fragment is found when a match names its work and overlaps it by half its length or 2.5 s; "
        "'wrong' counts matches naming a work that is in no fragment of the query. A fragment the landmarks missed "
        "is put down to the stage that lost it: its work not among the index's candidates (too few of its keys "
        "survived), a candidate whose key hits did not line up into a transform, or verified but too weakly "
        "(or elsewhere in the query).",
        "",
        "| transformation | landmarks | Chromaprint only | either (the service) | target | met (the service) | "
        "landmarks: reference start within 1.5 s / pitch error p95 / tempo error p95 | wrong (landmarks / "
        "Chromaprint) | landmark misses: no candidate / no transform / too weak |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for condition, by in detect.items():
        lm, cp = by["landmarks"], by["chromaprint"]
        both = by.get("either (as the service screens)")
        target = TARGETS.get(condition, 0.95)
        errors = (f"{pct(lm['ref_within_1_5s'], lm['found'])} / {lm['pitch_error_p95']:.2f} st / "
                  f"{lm['tempo_error_p95']:.3f}") if lm["found"] else "n/a"
        either = f"**{pct(both['found'], both['fragments'])}**" if both else "not measured"
        met = ("yes" if both["found"] / both["fragments"] >= target else "**no**") if both else ""
        lines.append(f"| {condition} | {pct(lm['found'], lm['fragments'])} | {pct(cp['found'], cp['fragments'])} | "
                     f"{either} | >= {target:.0%} | {met} | {errors} | "
                     f"{lm['wrong_work_matches']} / {cp['wrong_work_matches']} | {_missed(lm.get('missed_at'))} |")
    trials = fps["trials"]
    total = sum(trials.values())
    lm_false = sum(len(v.get("landmarks", [])) for v in fps["false"].values())
    cp_false = sum(len(v.get("chromaprint", [])) for v in fps["false"].values())
    lines += [
        "",
        f"False positives: {len(negatives)} unregistered pieces ({sum(w.seconds for w in negatives) / 3600:.2f} h: "
        f"4 real soundtracks, rendered corpus pieces, and Palestrina mass movements of masses with no movement in "
        "the catalog), every non-overlapping 10 s window, as is and re-pitched / re-timed:",
        "",
        "| windows | trials | landmarks false positives | Chromaprint false positives | either (the service): rate, "
        "95% upper bound | target |",
        "|---|---|---|---|---|---|",
    ]
    either_total = 0
    for condition, n in trials.items():
        f = fps["false"].get(condition, {})
        either = len({x.split(" ->")[0] for v in f.values() for x in v})
        either_total += either
        lines.append(f"| 10 s, {condition} | {n} | {len(f.get('landmarks', []))} | {len(f.get('chromaprint', []))} | "
                     f"**{either}**: {100 * either / n:.3f}%, < {100 * upper_bound(either, n):.2f}% | <= 0.1% |")
    lines.append(f"| all | {total} | {lm_false} | {cp_false} | **{either_total}**: {100 * either_total / total:.3f}%, "
                 f"< {100 * upper_bound(either_total, total):.2f}% (windows of one piece under three transformations "
                 "are not independent) | <= 0.1% |")
    examples = [f"{name}: {x}" for v in fps["false"].values() for name, xs in v.items() for x in xs]
    if examples:
        lines += ["", "Every false positive (window -> work, false-match probability): " + "; ".join(examples)]
    synthetic_hits = {k: v for k, v in fps["synthetic"].items() if any(v.values())}
    lines += ["", f"Signals that must never match ({', '.join(fps['synthetic'])}): "
              + ("none matched." if not synthetic_hits else f"**matched**: {synthetic_hits}")]
    walls = grpc["walls"]
    lines += [
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        f"| 3-minute MP3 (44.1 kHz stereo, 128 kbit/s) screened over gRPC: both fingerprints and the melody "
        f"extracted from the audio, as the service does when the pipeline sends no melody file "
        f"({grpc['tracks']} tracks x {len(walls) // grpc['tracks']} runs, catalog of {grpc['works']} works) "
        f"| p50 **{np.median(walls):.0f} ms**, p95 {np.quantile(walls, 0.95):.0f} ms | <= 1 s p50 | "
        f"{'yes' if np.median(walls) <= 1000 else '**no**'} |",
        f"| the same tracks in process, decode + both fingerprints + both matches (CPU time, one thread) | p50 "
        f"**{np.median(stages['all stages']):.0f} ms**, p95 {np.quantile(stages['all stages'], 0.95):.0f} ms | | |",
        f"| landmark index memory per hour of reference ({mem['hours']:.2f} h, {mem['postings']:,} postings) | index "
        f"{mem['index_bytes'] / mem['hours'] / 2 ** 20:.3f} MiB/h + resident peaks "
        f"{mem['resident_bytes'] / mem['hours'] / 2 ** 20:.3f} MiB/h = **"
        f"{(mem['index_bytes'] + mem['resident_bytes']) / mem['hours'] / 2 ** 20:.3f} MiB/h** | <= 2 MiB/h | "
        f"{'yes' if (mem['index_bytes'] + mem['resident_bytes']) / mem['hours'] / 2 ** 20 <= 2 else '**no**'} |",
    ]
    for r in scaled:
        met = "yes" if r["p95"] <= 100 else "**no**"
        lines.append(f"| landmark candidate search, 10 s query, {r['hours']:,} h ({r['postings'] / 1e6:,.0f} M postings, "
                     f"index {r['index_gib']:.2f} GiB; {r['queries']} queries, clean / +2 st / -10% tempo / 0 dB mix) "
                     f"| p50 {r['p50']:.1f} ms, **p95 {r['p95']:.1f} ms**; true work among the candidates "
                     f"{100 * r['recall']:.1f}% | {'<= 100 ms p95 at 5,000 h' if r['hours'] == 5000 else ''} | "
                     f"{met if r['hours'] == 5000 else ''} |")
    lines += [
        "",
        f"Peaks: {mem['peaks_per_s']:.1f} a second. Index file {mem['file_bytes'] / mem['hours'] / 2 ** 20:.2f} MiB/h; "
        f"save {mem['save_s']:.2f} s, load {mem['load_s']:.2f} s, rebuild from the stored fingerprints "
        f"{mem['build_s']:.2f} s for {mem['hours']:.2f} h. Synthetic postings at scale: keys drawn from "
        f"{1 / scaled[0]['collision_rate']:,.0f} values (the rate at which unrelated real queries hit real "
        "postings), positions uniform; the real catalog added on top." if scaled else "",
        "",
        "Median CPU time per stage, 3-minute MP3 (44.1 kHz stereo, 128 kbit/s; one thread, warm):",
        "",
        "| stage | p50 ms | p95 ms |",
        "|---|---|---|",
    ]
    for k, v in stages.items():
        lines.append(f"| {k} | {np.median(v):.1f} | {np.quantile(v, 0.95):.1f} |")
    lines += ["", "Stage p50 inside the gRPC screenings (ms): "
              + ", ".join(f"{k} {v:.1f}" for k, v in grpc["stages"].items())
              + ". An analysis worker computes the landmark spectrogram and the melody's spectra and contour on the "
                "other core while the track decodes, so fingerprint and melody count only what follows the decode."]
    return "\n".join(lines)


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True).stdout
        return sha.strip() + (" with uncommitted changes" if dirty.strip() else "")
    except OSError:
        return "unknown"


STEPS = ("detection", "false-positives", "speed", "scale")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small smoke run (figures not comparable)")
    parser.add_argument("--negative-hours", type=float, default=None,
                        help="hours of extra unregistered material for the false-positive count (default 8.5)")
    parser.add_argument("--scale-hours", type=int, nargs="*", default=None, help="default: 500 5000")
    parser.add_argument("--no-write", action="store_true", help="print, but leave docs/benchmarks.md alone")
    parser.add_argument("--steps", nargs="*", choices=STEPS, default=list(STEPS),
                        help="run only these; the others are taken from the last run's results (cached)")
    args = parser.parse_args()
    saved_path = cache_dir() / ("results-quick.json" if args.quick else "results.json")
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else {}
    started = _report.machine()
    negative_hours = args.negative_hours if args.negative_hours is not None else (0.1 if args.quick else 8.5)
    log("material")
    works = material(args.quick, negative_hours)
    registered = [w for w in works if w.split == "registered"]
    background = [w for w in works if w.split == "unregistered"]
    negatives = background + [w for w in works if w.split == "negative"]
    log(f"{len(registered)} registered, {len(background)} unregistered, {len(negatives)} negatives "
        f"({sum(w.seconds for w in negatives) / 3600:.2f} h)")
    catalog = Catalog(registered)
    results = dict(saved)
    if "detection" in args.steps:
        log("detection")
        results["detection"] = detection(catalog, registered[:6] if args.quick else registered, background,
                                         6 if args.quick else 50)
        saved_path.write_text(json.dumps(results, default=float))
    if "false-positives" in args.steps:
        log("false positives")
        results["false-positives"] = false_positives(catalog, negatives[:8] if args.quick else negatives)
        saved_path.write_text(json.dumps(results, default=float))
    if "speed" in args.steps:
        log("stage times and gRPC latency")
        long_tracks = [w for w in works if w.seconds >= 180 and w.split == "registered"][:4 if args.quick else 12]
        results["speed"] = {"stages": stage_times(catalog, long_tracks),
                            "grpc": grpc_latency(registered, long_tracks, 2 if args.quick else 5),
                            "memory": memory(catalog), "started": started, "commit": _commit()}
        saved_path.write_text(json.dumps(results, default=float))
    if "scale" in args.steps:
        log("scale")
        results["scale"] = scale(catalog, registered, background, args.scale_hours if args.scale_hours is not None
                                 else ([20] if args.quick else [500, 5000]))
        saved_path.write_text(json.dumps(results, default=float))
    missing = [k for k in STEPS if k not in results]
    if missing:
        log(f"results cached in {saved_path}; the report needs {', '.join(missing)} too: run those steps")
        return
    detect, fps, speed, scaled = (results[k] for k in STEPS)
    stages, grpc, mem = speed["stages"], speed["grpc"], speed["memory"]
    report = build_report(args, started if args.steps else speed["started"],
                          _commit() if args.steps else speed.get("commit", "not recorded"), works, detect, fps, stages, grpc, mem, scaled)
    print(report)
    if not args.no_write:
        _report.write_section("landmarks", report)


if __name__ == "__main__":
    main()
