"""Check the landmark null model against unrelated music: the evidence verification finds where there is no copy.

fingerprints/landmarks/verify.py's NullModel says: a stretch of unrelated music that verification examines shows
binomial evidence >= e with probability scale * 10 ** (-slope * e), one model per way of counting
(NULL_MODELS: "peaks", the query's peaks on the reference's; "maxima", the reference's peaks on the query's
maxima). This script collects every stretch that verification examines (LandmarkMatcher.examine) for three
kinds of unrelated query against the landmark benchmark's catalog (scripts/bench/landmarks.py, same material and cache):

    other registered works   10 s windows of each registered work (every 10 s from 2.5 s), clean, +1 and -2
                             semitones, +10% tempo; stretches of the window's own work and its twin left out;
    calibration music        music21 corpus pieces in neither the catalog nor the false-positive benchmark
                             (the same corpus groups, the files after the benchmark's in its shuffled order),
                             rendered the same way: every non-overlapping 10 s window, clean, +2 semitones,
                             +10% tempo. The shipped NULL_MODELS are the fits on this set;
    unregistered music       the false-positive benchmark's windows: every non-overlapping 10 s window of the
                             unregistered pieces, clean, +2 semitones, +10% tempo (a check: never fitted on).

For each set and way of counting it fits the exponential tail by maximum likelihood above the 99th percentile,
as NULL_MODELS were fitted, and counts the windows that each pair of models (the shipped one, and the fits)
would report at MAX_FALSE_MATCH.
It writes its section of docs/benchmarks.md and changes no code.

Run: .venv/bin/python scripts/bench/calibrate_landmarks.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import landmarks as bench  # noqa: E402  (the landmark benchmark: material, transformations, helpers)

from fingerprints import landmarks  # noqa: E402
from fingerprints.landmarks.verify import NULL_MODELS, NullModel, Stretch  # noqa: E402

CALIBRATION = {"bach": 30, "beethoven": 6, "mozart": 6, "haydn": 3, "monteverdi": 12, "ryansMammoth": 20,
               "trecento": 10, "josquin": 4, "schumann_robert": 3, "airdsAirs": 3, "schumann_clara": 2}
"""Calibration pieces per corpus group: the benchmark's groups but Palestrina (its masses are the
false-positive music) and the groups it takes whole."""
LEAVE_ONE_OUT = {"clean": [], "pitch +1 st": ["pitch", "100"], "tempo +10%": ["tempo", "1.10"],
                 "pitch -2 st": ["pitch", "-200"]}


@dataclass(frozen=True)
class Examined:
    """One unrelated query window: every stretch of another work that verification examined, which work each
    came from, and how many stretches it examined in all (the null's trial count)."""

    query: str
    stretches: tuple[Stretch, ...]
    works: tuple[int, ...]
    trials: int

    def evidence(self, counted: str) -> list[float]:
        return [s.evidence for s in self.stretches if s.counted == counted]

    def strongest(self, counted: str) -> tuple[float, int] | None:
        """The highest evidence counted this way, and the work it came from."""
        found = [(s.evidence, w) for s, w in zip(self.stretches, self.works) if s.counted == counted]
        return max(found) if found else None

    def reported_by(self, nulls: dict[str, NullModel]) -> bool:
        return any(nulls[s.counted].false_match_probability(s, self.trials) <= landmarks.MAX_FALSE_MATCH
                   for s in self.stretches)


def examine(matcher: landmarks.LandmarkMatcher, data: bytes, own: set[int], query: str) -> Examined:
    found = matcher.examine(landmarks.query(bench.decode(data).samples))
    others = [m for m in found if m.work_number not in own]
    return Examined(query, tuple(Stretch(0, 0, m.peaks, m.landed, m.chance, m.counted) for m in others),
                    tuple(m.work_number for m in others), len(found))


def leave_one_out(matcher: landmarks.LandmarkMatcher, registered: list[bench.Work]) -> Iterator[Examined]:
    numbers = {w.name: w.number for w in registered}
    for w in registered:
        own = {w.number} | ({numbers[bench.TWINS[w.name]]} if w.name in bench.TWINS else set())
        for s, seg in bench.windows(w, 2.5, 10.0):
            for condition, effect in LEAVE_ONE_OUT.items():
                yield examine(matcher, bench.wav_bytes(bench.sox(seg, effect) if effect else seg), own,
                              f"{w.name}@{s:.1f}s {condition}")


@functools.cache
def calibration_paths() -> list[str]:
    groups = bench.shuffled_corpus()
    return [path for group, n in CALIBRATION.items() for path in groups[group][bench.PIECES[group]:bench.PIECES[group] + n]]


def calibration_music() -> list[bench.Work]:
    """CALIBRATION's pieces, rendered as the benchmark renders its own (cached beside them, stems c000...)."""
    out = []
    for k, path in enumerate(calibration_paths()):
        wav = bench._render(path, f"c{k:03d}")
        if wav is not None:
            seconds = bench.sf.info(str(wav)).duration
            if seconds >= bench.EXCERPT_S:
                out.append(bench.Work(-1 - k, wav.stem, wav, "calibration", seconds))  # never a catalog number
    return out


def unregistered(matcher: landmarks.LandmarkMatcher, negatives: list[bench.Work]) -> Iterator[Examined]:
    for w in negatives:
        for s, seg in bench.windows(w, 0.0, bench.EXCERPT_S):
            for condition, effect in bench.FP_CONDITIONS.items():
                yield examine(matcher, bench.wav_bytes(bench.sox(seg, effect) if effect else seg), set(),
                              f"{w.name}@{s:.0f}s {condition}")


def fit_tail(evidence: np.ndarray) -> NullModel:
    """Exponential tail P(E >= e) = scale * 10 ** (-slope * e), maximum likelihood above the 99th percentile
    (the body of the distribution does not matter at a 1e-4 threshold)."""
    threshold = float(np.quantile(evidence, 0.99))
    excess = float(np.mean(evidence[evidence >= threshold] - threshold))
    slope = 1.0 / (max(excess, 1e-9) * math.log(10))
    return NullModel(scale=float(f"{0.01 * 10 ** (slope * threshold):.4g}"), slope=float(f"{slope:.4g}"))


def collect(name: str, windows: Iterator[Examined]) -> list[Examined]:
    out = []
    for k, window in enumerate(windows, 1):
        out.append(window)
        if k % 1000 == 0:
            bench.log(f"{name}: {k} windows")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few works and windows; prints only")
    args = parser.parse_args()
    started = time.perf_counter()
    machine = bench._report.machine()
    works = bench.material(args.quick, 0.1 if args.quick else 8.5)
    registered = [w for w in works if w.split == "registered"]
    negatives = [w for w in works if w.split in ("unregistered", "negative")]
    if args.quick:
        registered, negatives = registered[:12], negatives[:8]
    bench.log(f"catalog: {len(registered)} registered works; {len(negatives)} unregistered pieces")
    matcher = bench.Catalog(registered).landmarks
    calibration = calibration_music()[: 12 if args.quick else None]
    bench.log(f"calibration music: {len(calibration)} pieces, {sum(w.seconds for w in calibration) / 3600:.2f} h")
    sets = {"other registered works": collect("leave-one-out", leave_one_out(matcher, registered)),
            "calibration music": collect("calibration", unregistered(matcher, calibration)),
            "unregistered music": collect("unregistered", unregistered(matcher, negatives))}
    text = report(args, machine, started, registered, calibration, negatives, sets, {w.number: w.name for w in works})
    print(text)
    if args.quick:
        bench.log("--quick: printed only; docs/benchmarks.md not written")
    else:
        bench._report.write_section("calibrate_landmarks", text)
        bench.log("written to docs/benchmarks.md (section calibrate_landmarks)")


_corpus_pieces = functools.cache(bench._pieces)


def described(name: str) -> str:
    """A rendered piece's stem with the corpus file it was rendered from (m012: music21 corpus piece 12)."""
    pieces = {"m": _corpus_pieces, "c": calibration_paths}
    if name[:1] in pieces and name[1:].isdigit():
        return f"{name} ({pieces[name[0]]()[int(name[1:])].split('/corpus/')[-1]})"
    return name


def report(args, machine: str, started: float, registered: list[bench.Work], calibration: list[bench.Work],
           negatives: list[bench.Work], sets: dict[str, list[Examined]], names: dict[int, str]) -> str:
    fits = {name: {counted: fit_tail(np.array([e for w in windows for e in w.evidence(counted)]))
                   for counted in NULL_MODELS} for name, windows in sets.items()}
    models = {"shipped (verify.NULL_MODELS)": NULL_MODELS} | {f"fitted on {name}": fit for name, fit in fits.items()}
    rows = []
    for name, windows in sets.items():
        for counted in NULL_MODELS:
            evidence = np.array([e for w in windows for e in w.evidence(counted)])
            q = np.quantile(evidence, [0.5, 0.9, 0.99, 0.999])
            fit = fits[name][counted]
            rows.append(f"| {name} | {counted} | {len(windows):,} | {len(evidence):,} | "
                        + " | ".join(f"{v:.1f}" for v in q) + f" | {evidence.max():.1f} | scale {fit.scale}, slope {fit.slope} |")
    reported = []
    for model_name, model in models.items():
        cells = []
        for windows in sets.values():
            k = sum(w.reported_by(model) for w in windows)
            cells.append(f"{k} of {len(windows):,} ({100 * k / len(windows):.3f}%)")
        shown = "; ".join(f"{c}: scale {m.scale}, slope {m.slope}" for c, m in model.items())
        reported.append(f"| {model_name} ({shown}) | " + " | ".join(cells) + " |")
    top = []
    for name, windows in sets.items():
        for counted in NULL_MODELS:
            best = sorted((w for w in windows if w.strongest(counted)), key=lambda w: -w.strongest(counted)[0])[:4]
            top.append(f"{name}, {counted}: " + "; ".join(
                f"{described(w.query.split('@')[0])}@{w.query.split('@')[1]} -> "
                f"{described(names[w.strongest(counted)[1]])} {w.strongest(counted)[0]:.1f}" for w in best))
    return f"""## Landmark null model: evidence of unrelated music (calibrate_landmarks)

Command: `.venv/bin/python scripts/bench/calibrate_landmarks.py{' --quick' if args.quick else ''}` ({machine}; commit {bench._commit()}; {(time.perf_counter() - started) / 60:.1f} min)

Catalog: the landmark benchmark's {len(registered)} registered works ({sum(w.seconds for w in registered) / 3600:.2f} h). Every stretch that
verification examines (`LandmarkMatcher.examine`) for two kinds of unrelated 10 s query, with its binomial
evidence (`verify.Stretch.evidence`): **other registered works** (each registered work's windows every 10 s,
clean, +1 / -2 semitones, +10% tempo, against the other works: its own and its twin's stretches left out),
**calibration music** ({len(calibration)} music21 corpus pieces in neither the catalog nor the false-positive music,
{sum(w.seconds for w in calibration) / 3600:.2f} h, rendered the same way: every 10 s window, clean, +2 semitones, +10% tempo; the
shipped models are the fits on this set) and **unregistered music** (the false-positive benchmark's windows
of {len(negatives)} unregistered pieces, {sum(w.seconds for w in negatives) / 3600:.2f} h: clean, +2 semitones, +10% tempo; never fitted
on). Each way of counting (`Stretch.counted`: "peaks", the query's peaks on the reference's; "maxima", the
reference's peaks on the query's maxima) has its own tail, fitted as `NULL_MODELS` are: an exponential above the
99th percentile, by maximum likelihood.

| unrelated queries | counted | windows | stretches examined | evidence median | q0.9 | q0.99 | q0.999 | max | tail fit |
|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + f"""

Windows that each model would report (false-match probability <= {landmarks.MAX_FALSE_MATCH:g}, the number of
stretches examined for the window as trials, as `LandmarkMatcher.match` does):

| model | other registered works | calibration music | unregistered music |
|---|---|---|---|
""" + "\n".join(reported) + """

Strongest unrelated stretches (window -> work, evidence): """ + "\n\n".join(top) + "\n"


if __name__ == "__main__":
    main()
