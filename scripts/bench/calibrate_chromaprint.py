"""Calibrate the verification null model: the bit-error rate (BER) of unrelated music over n informative frames.

fingerprints/verify.py's NullModel says: the mean per-frame BER of unrelated music over n informative frames,
at a random alignment, is ~ Normal(mean, sd_24 * (n / 24) ** -decay). This script measures that distribution
on pairs of unrelated recordings (the freedroidrpg-data soundtracks and music21 corpus pieces rendered with
FluidSynth; see scripts/bench/foundation.py), for n in {16, 24, 40, 80, 160, 240}, fits

    mean     = the mean BER over every sample,
    sd(n)    = (mean - q0.001(n)) / 3.09      (the spread implied by the observed 0.1% quantile),
    sd(n)    = sd_24 * (n / 24) ** -decay     (least squares on log sd(n) against log(n / 24)),

and prints the fitted values beside those in NullModel. It writes its section of docs/benchmarks.md and
changes no code.

Run: .venv/bin/python scripts/bench/calibrate_chromaprint.py [--quick] [--samples N]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import foundation as bench  # noqa: E402  (shares the material and the helpers)

from fingerprints.verify import NULL_MODEL, NullModel, informative  # noqa: E402

N_VALUES = (16, 24, 40, 80, 160, 240)
Z_0001 = 3.090232  # standard normal quantile of 0.999
CHUNK = 20_000


def work_of(name: str) -> str:
    """Pieces of one corpus work (movements of a quartet, parts of a mass) may share material: never pair them."""
    return re.sub(r"-movement\d+$", "", name)


def sample_bers(tracks: list[dict], pairs: np.ndarray, n: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """`count` BERs over n informative frames at random alignments of random eligible pairs; and how many draws
    were discarded because a block lacked n frames informative in both tracks."""
    block = int(math.ceil(n * 1.25)) + 8
    lengths = np.array([len(t["codes"]) for t in tracks])
    ok_pairs = pairs[(lengths[pairs[:, 0]] > block) & (lengths[pairs[:, 1]] > block)]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    codes = np.concatenate([t["codes"] for t in tracks])
    mask = np.concatenate([t["informative"] for t in tracks])
    out: list[np.ndarray] = []
    discarded = 0
    have = 0
    steps = np.arange(block)
    while have < count:
        size = min(CHUNK, count - have)
        chosen = ok_pairs[rng.integers(0, len(ok_pairs), size)]
        a = offsets[chosen[:, 0]] + (rng.random(size) * (lengths[chosen[:, 0]] - block + 1)).astype(np.int64)
        b = offsets[chosen[:, 1]] + (rng.random(size) * (lengths[chosen[:, 1]] - block + 1)).astype(np.int64)
        ia, ib = a[:, None] + steps, b[:, None] + steps
        errors = np.bitwise_count(codes[ia] ^ codes[ib]).astype(np.float64) / 32.0
        both = mask[ia] & mask[ib]
        taken = both & (np.cumsum(both, axis=1) <= n)
        valid = taken.sum(axis=1) == n
        discarded += int((~valid).sum())
        ber = (errors * taken).sum(axis=1)[valid] / n
        out.append(ber)
        have += len(ber)
    return np.concatenate(out)[:count], discarded


def screen_unregistered(sources: list, tracks: list[dict], models: dict[str, NullModel],
                        hops: dict[float, float]) -> dict:
    """Screen windows of the unregistered recordings against the registered ones with each null model.

    Random alignments (above) are not what verify() sees: it scores stretches at the alignments the index
    proposes, chosen because some windows there are within 40 bits. This counts, per model, the windows
    of unrelated music that would be reported as a match."""
    import fingerprints
    import fingerprints.verify as verify_module
    from fingerprints.verify import SMOOTHING_FRAMES, verify

    codes_of = {t["name"]: t["codes"] for t in tracks}
    registered = [s for s in sources if s.registered]
    references = {n: codes_of[s.name] for n, s in enumerate(registered, 1)}
    names = {n: s.name for n, s in enumerate(registered, 1)}
    matcher = fingerprints.AudioMatcher.build(references.items())
    result = {name: {"windows_matched": 0, "min_p": 1.0, "hits": []} for name in models}
    windows = 0
    for source in sources:
        if source.registered:
            continue
        audio = fingerprints.decode(source.path.read_bytes(), sample_rate=fingerprints.SAMPLE_RATE, max_seconds=3600)
        for length, hop in hops.items():
            n = int(length * fingerprints.SAMPLE_RATE)
            for a in range(0, len(audio.samples) - n + 1, int(hop * fingerprints.SAMPLE_RATE)):
                piece = fingerprints.Audio(audio.samples[a:a + n], audio.sample_rate, 1, audio.sample_rate, audio.codec)
                codes = fingerprints.fingerprint(piece).codes
                # Candidates overlapping their reference by < 9 frames crash verify() (see foundation.py).
                candidates = [c for c in matcher.index.candidates(codes)
                              if min(len(codes), len(references[c.work_number]) - c.offset) - max(0, -c.offset)
                              >= SMOOTHING_FRAMES]
                windows += 1
                for name, model in models.items():
                    found = verify(codes, references, candidates, null=model)
                    r = result[name]
                    if found:
                        r["windows_matched"] += 1
                        best = min(found, key=lambda m: m.false_match_probability)
                        r["hits"].append(f"{source.name} @ {a / fingerprints.SAMPLE_RATE:.0f} s ({length:.0f} s) -> "
                                         f"{names[best.work_number]}, BER {best.bit_error_rate:.3f}, "
                                         f"p {best.false_match_probability:.1e}")
                    # The smallest p any stretch reached, threshold or not, as a margin: the threshold is
                    # lifted in this process only, for this one call.
                    saved, verify_module.MAX_FALSE_MATCH = verify_module.MAX_FALSE_MATCH, 1.0
                    try:
                        for m in verify(codes, references, candidates, null=model):
                            r["min_p"] = min(r["min_p"], m.false_match_probability)
                    finally:
                        verify_module.MAX_FALSE_MATCH = saved
    return {"windows": windows, "models": result, "catalog": len(registered)}


def fit(stats: dict[int, dict], mean: float) -> tuple[float, float]:
    xs = np.log(np.array(N_VALUES) / 24)
    ys = np.log(np.array([(mean - stats[n]["q001"]) / Z_0001 for n in N_VALUES]))
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(math.exp(intercept)), float(-slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="less material and fewer samples; prints only")
    parser.add_argument("--samples", type=int, help="samples per n and pair type (default 100,000; quick 10,000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    per_type = args.samples or (10_000 if args.quick else 100_000)
    started = time.perf_counter()
    info = bench.machine_details()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="guard-calibrate-") as tmp:
        calibrate(args, Path(tmp), started, info, rng, per_type)


def calibrate(args, tmp: Path, started: float, info: dict, rng: np.random.Generator, per_type: int) -> None:
    bench.log("rendering corpus pieces ...")
    real = bench.real_sources()
    rendered, skipped = bench.rendered_sources(tmp / "rendered", args.quick)
    tracks = []
    for s in real + rendered:
        codes, seconds = bench.decode_codes(s.path.read_bytes())
        tracks.append({"name": s.name, "kind": s.kind, "group": s.group, "work": work_of(s.name),
                       "codes": codes, "informative": informative(codes), "seconds": seconds})
    bench.log(f"{len(tracks)} recordings ({sum(t['seconds'] for t in tracks) / 3600:.2f} h)")

    pairs_by_type: dict[str, list[tuple[int, int]]] = {"real-real": [], "rendered-rendered": [], "real-rendered": []}
    excluded = 0
    for i, ti in enumerate(tracks):
        for j, tj in enumerate(tracks):
            if i == j:
                continue
            if tj["name"] in ti["group"] or ti["work"] == tj["work"]:
                excluded += 1
                continue
            kind = "real-real" if ti["kind"] == tj["kind"] == "real" else (
                "rendered-rendered" if ti["kind"] == tj["kind"] == "rendered" else "real-rendered")
            pairs_by_type[kind].append((i, j))

    stats: dict[int, dict] = {}
    by_type: dict[tuple[str, int], dict] = {}
    all_samples = []
    for n in N_VALUES:
        pooled = []
        for kind, pairs in pairs_by_type.items():
            bers, discarded = sample_bers(tracks, np.array(pairs), n, per_type, rng)
            pooled.append(bers)
            by_type[(kind, n)] = {"mean": float(bers.mean()), "sd": float(bers.std()),
                                  "q001": float(np.quantile(bers, 0.001)), "discarded": discarded}
        bers = np.concatenate(pooled)
        all_samples.append(bers)
        stats[n] = {"count": len(bers), "mean": float(bers.mean()), "sd": float(bers.std()),
                    "q001": float(np.quantile(bers, 0.001)), "q0001": float(np.quantile(bers, 0.0001)),
                    "min": float(bers.min())}
        bench.log(f"n={n}: mean {stats[n]['mean']:.4f} sd {stats[n]['sd']:.4f} q0.001 {stats[n]['q001']:.4f}")
    mean = float(np.mean(np.concatenate(all_samples)))
    sd_24, decay = fit(stats, mean)
    fitted = NullModel(mean=round(mean, 4), sd_24=round(sd_24, 4), decay=round(decay, 3))
    current = NULL_MODEL
    bench.log("screening unregistered windows with both models ...")
    hops = {10.0: 10.0, 30.0: 30.0} if args.quick else {10.0: 4.0, 30.0: 10.0}
    screened = screen_unregistered(real + rendered, tracks, {"current": current, "fitted": fitted}, hops)
    elapsed = time.perf_counter() - started

    rows = []
    for n in N_VALUES:
        s = stats[n]
        sd_obs = (mean - s["q001"]) / Z_0001
        rows.append(
            f"| {n} | {s['count']:,} | {s['mean']:.4f} | {s['sd']:.4f} | {s['q001']:.4f} | {s['q0001']:.4f} | "
            f"{s['min']:.4f} | {sd_obs:.4f} | {fitted.sd_24 * (n / 24) ** -fitted.decay:.4f} | "
            f"{current.sd_24 * (n / 24) ** -current.decay:.4f} | "
            f"{current.false_match_probability(s['q001'], n, 1):.2e} | "
            f"{fitted.false_match_probability(s['q001'], n, 1):.2e} |")
    type_rows = []
    for kind, pairs in pairs_by_type.items():
        cells = " | ".join(f"{by_type[(kind, n)]['mean']:.4f} / {by_type[(kind, n)]['q001']:.4f}" for n in N_VALUES)
        type_rows.append(f"| {kind} | {len(pairs):,} | {cells} |")
    discarded = sum(v["discarded"] for v in by_type.values())
    entry = os.environ.get("GUARD_BENCH_ENTRY")
    command = shlex.join([entry] if entry else [".venv/bin/python", "scripts/bench/calibrate_chromaprint.py"]) + (
        " " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    real_n = sum(t["kind"] == "real" for t in tracks)
    text = f"""## Chromaprint null model: BER of unrelated music (calibrate_chromaprint)

Command: `{command}` ({info['machine']}; started {info['started']}; commit {info['commit']}; {elapsed / 60:.1f} min)

Material: {real_n} freedroidrpg-data soundtracks and {len(tracks) - real_n} music21 corpus pieces rendered with FluidSynth
(the foundation benchmark's set), {sum(t['seconds'] for t in tracks) / 3600:.2f} h, fingerprinted in process.
Pairs: every ordered pair of different recordings except the shared-audio pairs (AmbientBattle/TechBattle,
HellFortressEntrance/HellFortressTwo) and movements of one corpus work ({excluded} ordered pairs excluded).
A sample: a random eligible pair, a random start in each recording (so a random alignment), then the first n
frames informative in both (code differs from the previous one, as `verify.informative`); the statistic is the
mean per-frame BER over those n frames. {per_type:,} samples per n and pair type
(real-real, rendered-rendered, real-rendered), pooled: {3 * per_type:,} per n ({discarded:,} draws discarded for
lacking n informative frames in a {int(math.ceil(16 * 1.25)) + 8}-{int(math.ceil(240 * 1.25)) + 8} frame block).
Samples from one pair of recordings overlap, so they are not independent: the 0.1% quantiles rest on
{len(tracks)} recordings, not on {3 * per_type:,} independent draws.

| | mean | sd_24 | decay |
|---|---|---|---|
| NullModel now (fingerprints/verify.py) | {current.mean} | {current.sd_24} | {current.decay} |
| **fitted here** | **{fitted.mean}** | **{fitted.sd_24}** | **{fitted.decay}** |

| n | samples | mean BER | sd | q0.001 | q0.0001 | min | (mean - q0.001) / 3.09 | fitted sd(n) | current sd(n) | current model P(BER <= q0.001) | fitted model P(BER <= q0.001) |
|---|---|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + f"""

A calibrated model gives ~1.0e-03 in the last two columns; a larger value means the model is conservative at that
n (it overstates how often unrelated music gets that close), a smaller one that it is too permissive.

**At the index's candidate alignments** (what `verify` actually scores): every {' / '.join(f'{l:.0f} s' for l in hops)}
window of the unregistered recordings, stepped by {' / '.join(f'{h:g} s' for h in hops.values())}, screened against the
{screened['catalog']} registered recordings of the foundation benchmark ({screened['windows']:,} windows; candidates from
`AudioIndex.candidates`, scored by `verify` with each model; candidates overlapping their reference by fewer than 9
frames dropped, as they make `verify` raise):

| null model | windows with a match (p <= MAX_FALSE_MATCH = 1e-4) | smallest p of any stretch (threshold lifted) |
|---|---|---|
""" + "\n".join(f"| {name} ({'mean %s, sd_24 %s, decay %s' % (m.mean, m.sd_24, m.decay)}) | "
               f"{screened['models'][name]['windows_matched']} of {screened['windows']:,} | "
               f"{screened['models'][name]['min_p']:.1e} |" for name, m in (("current", current), ("fitted", fitted))) + \
        "".join(f"\n\n{name} model matches: " + "; ".join(screened["models"][name]["hits"][:20])
                for name in ("current", "fitted") if screened["models"][name]["hits"]) + """

Mean / q0.001 by pair type:

| pair type | ordered pairs | """ + " | ".join(f"n={n}" for n in N_VALUES) + " |\n|---|---|" + "---|" * len(N_VALUES) + "\n" + \
        "\n".join(type_rows) + "\n" + (f"\nNot rendered (skipped): {'; '.join(skipped)}.\n" if skipped else "")
    print(text)
    print(f"\nNullModel(mean={fitted.mean}, sd_24={fitted.sd_24}, decay={fitted.decay})  "
          f"# current: NullModel(mean={current.mean}, sd_24={current.sd_24}, decay={current.decay})")
    if args.quick:
        bench.log("--quick: printed only; docs/benchmarks.md not written")
    else:
        from _report import write_section

        write_section("calibrate_chromaprint", text)
        bench.log("written to docs/benchmarks.md (section calibrate_chromaprint)")


if __name__ == "__main__":
    main()
