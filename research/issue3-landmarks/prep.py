"""Prepare the evaluation material (offline): real tracks and rendered MIDI pieces as 22.05 kHz mono WAV.

Writes data/real/*.wav, data/midi/*.wav and data/manifest.json with the split:
  registered:    12 real tracks + rendered pieces (the catalog)
  calibration:   unregistered rendered pieces used only to fit the null model
  unregistered:  4 real tracks + other rendered pieces, used for false positives and as mixing background
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from music21 import corpus, instrument

ROOT = Path(__file__).parent
DATA = ROOT / "data"
MUSIC = Path("/usr/share/freedroidrpg/data/sound/music")
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
RATE = 22_050
UNREGISTERED_REAL = ["Ambience", "Suspicion", "temple", "underground"]
PROGRAMS = [0, 6, 19, 24, 40, 42, 48, 52, 56, 60, 68, 71, 73, 11, 4, 46]
MAX_SECONDS = 180.0
MIN_SECONDS = 25.0


def real() -> list[dict]:
    out = []
    (DATA / "real").mkdir(parents=True, exist_ok=True)
    for path in sorted(MUSIC.glob("*.ogg")):
        wav = DATA / "real" / (path.stem + ".wav")
        if not wav.exists():
            subprocess.run(["sox", str(path), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
        out.append({"name": path.stem, "path": str(wav.relative_to(ROOT)), "kind": "real",
                    "split": "unregistered" if path.stem in UNREGISTERED_REAL else "registered"})
    return out


def pieces() -> list[str]:
    """A deterministic, varied choice from music21's bundled corpus."""
    rng = random.Random(7)
    chosen: list[str] = []
    by_group: dict[str, list[str]] = {}
    for p in corpus.getPaths():
        s = str(p)
        group = s.split("/corpus/")[1].split("/")[0]
        by_group.setdefault(group, []).append(s)
    wanted = {"bach": 40, "beethoven": 8, "mozart": 8, "haydn": 6, "monteverdi": 12, "palestrina": 12,
              "ryansMammoth": 20, "trecento": 8, "schumann_robert": 3, "josquin": 4, "joplin": 1,
              "chopin": 1, "handel": 1, "corelli": 1, "schubert": 1, "weber": 1, "verdi": 1, "cpebach": 1,
              "airdsAirs": 3, "schumann_clara": 3, "beach": 1}
    for group, n in wanted.items():
        files = sorted(f for f in by_group.get(group, []) if f.endswith((".mxl", ".xml", ".krn", ".musicxml", ".abc", ".md", ".mid")))
        rng.shuffle(files)
        chosen.extend(files[:n])
    return chosen


def render(path: str, number: int) -> Path | None:
    stem = f"m{number:03d}"
    wav = DATA / "midi" / f"{stem}.wav"
    if wav.exists():
        return wav
    mid = DATA / "midi" / f"{stem}.mid"
    try:
        score = corpus.parse(path)
        if hasattr(score, "scores"):  # an opus of folk tunes: join its first few tunes
            parts = list(score.scores)[:6]
            score = parts[0]
            if len(parts) > 1:
                from music21 import stream
                joined = stream.Score()
                flat = stream.Part()
                for s in parts:
                    for n in s.flatten().notesAndRests:
                        flat.append(n)
                joined.insert(0, flat)
                score = joined
        measures = len(score.parts[0].getElementsByClass("Measure")) if score.parts else 0
        if score.highestTime > 400 and measures:
            score = score.measures(1, max(1, int(measures * 400 / score.highestTime)))
        rng = random.Random(number)
        for part in score.parts:
            for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
                old.activeSite.remove(old)
            inst = instrument.Instrument()
            inst.midiProgram = rng.choice(PROGRAMS)
            part.insert(0, inst)
        score.write("midi", fp=str(mid))
    except Exception as exc:  # some corpus files do not parse or convert; skip them
        print("skip", path, exc, file=sys.stderr)
        return None
    raw = DATA / "midi" / f"{stem}.raw.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-F", str(raw), "-r", "44100", SOUNDFONT, str(mid)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, preexec_fn=_limit_file_size)
    subprocess.run(["sox", "--ignore-length", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav), "silence", "1", "0.05", "0.5%",
                    "reverse", "silence", "1", "0.05", "0.5%", "reverse", "trim", "0", str(MAX_SECONDS), "norm", "-3"],
                   check=True)
    raw.unlink()
    return wav


def _limit_file_size() -> None:
    """A corpus score with a stuck note makes fluidsynth render forever; stop it at ~8 minutes of audio."""
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (80 << 20, 80 << 20))


def main() -> None:
    (DATA / "midi").mkdir(parents=True, exist_ok=True)
    items = real()
    rendered = []
    for number, path in enumerate(pieces()):
        wav = render(path, number)
        if wav is None:
            continue
        seconds = sf.info(str(wav)).duration
        if seconds < MIN_SECONDS:
            continue
        rendered.append({"name": wav.stem, "source": path.split("/corpus/")[1], "path": str(wav.relative_to(ROOT)),
                         "kind": "midi", "seconds": round(seconds, 2)})
    rng = random.Random(11)
    rng.shuffle(rendered)
    # a third registered, a sixth for calibration, the rest unregistered
    n = len(rendered)
    for i, item in enumerate(rendered):
        item["split"] = "registered" if i < n // 3 else "calibration" if i < n // 3 + n // 6 else "unregistered"
    for item in items:
        item["seconds"] = round(sf.info(str(ROOT / item["path"])).duration, 2)
    manifest = items + sorted(rendered, key=lambda x: x["name"])
    (DATA / "manifest.json").write_text(json.dumps(manifest, indent=1))
    for split in ("registered", "calibration", "unregistered"):
        sel = [m for m in manifest if m["split"] == split]
        print(split, len(sel), round(sum(m["seconds"] for m in sel) / 60, 1), "min")


if __name__ == "__main__":
    np.random.seed(0)
    main()
