"""Benchmark helpers: the cached corpus, the catalog/background/test split, query generation, MIDI writing,
rendering and mixing. Used by measure.py; not part of the melody package."""
from __future__ import annotations

import json
import os
import re
import struct
import sys
import unicodedata
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from melody.notes import Melody  # noqa: E402

CACHE = os.path.join(HERE, "cache")
FIELDS = ("pitch", "onset", "duration", "start", "end", "bar", "confidence", "metric")


def load_corpus() -> tuple[list[dict], list[Melody]]:
    meta = json.load(open(os.path.join(CACHE, "corpus.json")))["tunes"]
    z = np.load(os.path.join(CACHE, "corpus.npz"))
    off = z["offsets"]
    arrays = {f: z[f] for f in FIELDS}
    mels = []
    for i, t in enumerate(meta):
        lo, hi = off[i], off[i + 1]
        mels.append(Melody(*(arrays[f][lo:hi] for f in FIELDS), source=t.get("source", "")))
    return meta, mels


_FORM_WORDS = r"\b(the|a|an|reel|jig|jigs|hornpipe|strathspey|set dance|slip|single|double|march|air|polka|waltz|" \
              r"quickstep|quick step|long dance|clog|fling|schottische|highland|mazurka|galop|song|tune|no|new|old|" \
              r"or|and|of|my|o|s|mr|mrs|miss|de|le|la|der|die|das|ein|eine)\b"


def norm_title(title: str) -> str:
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    t = re.sub(r"\(.*?\)|\[.*?\]", " ", t)
    t = re.sub(r"[^a-z ]+", " ", t)
    t = re.sub(_FORM_WORDS, " ", t)
    return " ".join(t.split())


_STOP = set("""the a an of and or in on to my your his her our their is was be at by for with from no new old
s mr mrs miss de le la les du des der die das den dem des ein eine einen einem einer es er sie ich du wir ihr
und oder im am zu zum zur vom von auf aus bei mit nach so da wie was wo hat ist war sind a o un une il el al""".split())


def title_keys(title: str) -> list[str]:
    """Spelling-tolerant keys of a title (first lines of songs in Essen: 'Wirthshaus'/'Wirtshaus',
    'Kuckuk'/'Kukuk' are one song)."""
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    t = re.sub(r"\(.*?\)|\[.*?\]", " ", t)
    t = re.sub(r"\d.*$", " ", t)
    t = re.sub(r"[^a-z ]+", " ", t)
    t = re.sub(_FORM_WORDS, " ", t)
    words = [w for w in t.split() if w not in _STOP and len(w) > 1]
    norm = []
    for w in words:
        for a, b in (("ae", "a"), ("oe", "o"), ("ue", "u"), ("th", "t"), ("ck", "k"), ("ph", "f"), ("y", "i"),
                     ("ie", "i"), ("dt", "t"), ("c", "k")):
            w = w.replace(a, b)
        w = re.sub(r"(.)\1+", r"\1", w)
        norm.append(w)
    keys = []
    if len("".join(norm)) >= 6:
        keys.append(" ".join(norm))
    if len(norm) >= 3:
        keys.append("3:" + " ".join(norm[:3]))
    return keys


def melodic_key(m: Melody, n: int = 20) -> tuple:
    p = m.pitch[: n + 1]
    return tuple(np.diff(p).astype(int).tolist())


class _DSU:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, a: int) -> int:
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.p[max(a, b)] = min(a, b)


NGRAM = 16
CATALOG_SIZE = 10_000
BACKGROUND_SIZE = 700


@dataclass
class Split:
    catalog: list[int]
    background: list[int]
    test: list[int]
    variants: list[tuple[int, list[int]]]
    """(held-out Ryan's tune, its O'Neill's namesakes in the catalog)."""
    components: list[int]
    stats: dict


def make_split(meta: list[dict], mels: list[Melody], seed: int = 1) -> Split:
    """Catalog / background (null calibration) / test (negatives and fillers) / O'Neill-Ryan variants.

    Tunes that are plausibly the same tune go to the same side: same normalised title within a collection,
    the same first 20 intervals, or any exact run of NGRAM intervals in common (copies and close variants
    under other titles, frequent in Essen's ballad books). Titles shared between O'Neill's and Ryan's are
    real variants: the O'Neill's version goes in the catalog, the Ryan's version is a separate query set."""
    n = len(meta)
    dsu = _DSU(n)
    by_title: dict[tuple[str, str], list[int]] = {}
    cross: dict[str, list[int]] = {}
    for i, t in enumerate(meta):
        for title in t["titles"][:1]:
            k = norm_title(title)
            if len(k) >= 4:
                by_title.setdefault((t["collection"], k), []).append(i)
                cross.setdefault(k, []).append(i)
        if t["collection"] != "ryans":  # O'Neill <-> Ryan namesakes are kept apart on purpose (variants)
            for title in t["titles"]:
                for k in title_keys(title):
                    by_title.setdefault(("fuzzy", k), []).append(i)
    for members in by_title.values():
        for j in members[1:]:
            dsu.union(members[0], j)
    grams: dict[bytes, int] = {}
    for i, m in enumerate(mels):
        iv = np.clip(np.diff(m.pitch), -60, 60).astype(np.int8)
        for s in range(0, max(0, len(iv) - NGRAM + 1)):
            w = iv[s:s + NGRAM]
            if len(np.unique(w)) < 4:
                continue  # repeated notes, trills, scale runs: shared by chance
            g = w.tobytes()
            j = grams.setdefault(g, i)
            if j != i:
                dsu.union(i, j)
    # cross-collection titles: union everything except O'Neill <-> Ryan pairs, which become variants
    variant_pairs: list[tuple[int, list[int]]] = []
    for k, members in cross.items():
        cols = {meta[i]["collection"] for i in members}
        if len(cols) < 2:
            continue
        one = [i for i in members if meta[i]["collection"] == "oneills"]
        rya = [i for i in members if meta[i]["collection"] == "ryans"]
        others = [i for i in members if meta[i]["collection"] not in ("oneills", "ryans")]
        for j in others[1:]:
            dsu.union(others[0], j)
        if one and others:
            dsu.union(one[0], others[0])
        if rya and others and not one:
            dsu.union(rya[0], others[0])
        if one and rya:
            variant_pairs.append((rya[0], one))
    comp = [dsu.find(i) for i in range(n)]
    variant_ids = {r for r, _ in variant_pairs}
    # a Ryan's variant must not share a component with anything else except through its O'Neill's namesake
    rng = np.random.default_rng(seed)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        if i not in variant_ids:
            groups.setdefault(comp[i], []).append(i)
    forced = {comp[o] for _, ones in variant_pairs for o in ones}
    for r in variant_ids:
        forced.add(comp[r])  # anything melodically tied to a held-out variant stays in the catalog
    keys = list(groups)
    rng.shuffle(keys)
    keys.sort(key=lambda k: 0 if k in forced else 1)  # stable: forced first, then random order
    catalog, rest = [], []
    count = 0
    for k in keys:
        if count < CATALOG_SIZE:
            catalog.append(k)
            count += len(groups[k])
        else:
            rest.append(k)
    cat = [i for k in catalog for i in groups[k]]
    background, test = [], []
    for k in rest:
        (background if len(background) < BACKGROUND_SIZE else test).extend(groups[k])
    cat_set = set(cat)
    variants = [(r, [o for o in ones if o in cat_set]) for r, ones in variant_pairs]
    variants = [(r, ones) for r, ones in variants if ones]
    sizes = np.bincount(np.unique(comp, return_inverse=True)[1])
    stats = {"tunes": n, "components": int(len(sizes)), "largest_component": int(sizes.max()),
             "tunes_in_multi_tune_components": int(sizes[sizes > 1].sum()), "catalog": len(cat),
             "background": len(background), "test": len(test), "variants": len(variants)}
    return Split(sorted(cat), sorted(background), sorted(test), variants, comp, stats)


# ---------------------------------------------------------------------------------------------------------
# query generation (all times in quarter notes until rendering)

@dataclass
class Notes:
    pitch: np.ndarray
    onset: np.ndarray
    dur: np.ndarray
    bar: np.ndarray          # source bar (for chords), -1 unknown
    part: np.ndarray         # 0 filler before, 1 quotation, 2 filler after

    def cat(self, other: "Notes") -> "Notes":
        return Notes(*(np.concatenate([getattr(self, f), getattr(other, f)]) for f in ("pitch", "onset", "dur", "bar", "part")))


@dataclass
class Recipe:
    name: str
    changed: tuple[int, ...] = (0,)
    ornaments: float = 0.0
    jitter: bool = False
    scales: tuple[float, ...] = (0.5, 1.0, 2.0)


RECIPES = {
    "exact": Recipe("exact"),
    "changed": Recipe("changed", changed=(0, 1, 2)),
    "ornamented": Recipe("ornamented", changed=(0, 1, 2), ornaments=0.3),
    "jitter": Recipe("jitter", changed=(0, 1, 2), jitter=True),
    "orn+jitter": Recipe("orn+jitter", changed=(0, 1, 2), ornaments=0.3, jitter=True),
    "audio": Recipe("audio", changed=(0, 1, 2), jitter=True, scales=(1.0,)),
}


@dataclass
class QuerySpec:
    kind: str                 # positive / negative / variant
    source: int               # tune index of the quotation
    bars: tuple[int, int]     # true bar range (inclusive) in the source
    n_bars: int
    recipe: str
    transpose: int
    scale: float
    qpm: float
    n_changed: int
    fillers: tuple[int, int]
    notes: Notes | None = None
    quote_ql: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    clean: np.ndarray | None = None
    """The query's pitches before changed notes and ornaments (for the relatedness check)."""


def tune_unit(m: Melody) -> float:
    from melody.represent import unit
    return unit(m)


def phrase(m: Melody, b0: int, n_bars: int) -> np.ndarray:
    return np.flatnonzero((m.bar >= b0) & (m.bar < b0 + n_bars))


def pick_phrase(m: Melody, n_bars: int, rng: np.random.Generator, min_notes: int = 6) -> int | None:
    bars = np.unique(m.bar)
    starts = [b for b in bars if b >= 1 and all((b + k) in set(bars.tolist()) for k in range(n_bars))]
    rng.shuffle(starts)
    for b in starts:
        if len(phrase(m, b, n_bars)) >= min_notes:
            return int(b)
    return None


def _scale_set(m: Melody) -> np.ndarray:
    pcs = np.unique(np.round(m.pitch).astype(int) % 12)
    return np.array([p for p in range(0, 128) if p % 12 in pcs])


def _neighbour(p: float, scale: np.ndarray, up: bool) -> float:
    cand = scale[scale > p] if up else scale[scale < p]
    if not len(cand):
        return p + (2 if up else -2)
    return float(cand.min() if up else cand.max())


def extract(m: Melody, idx: np.ndarray, part: int) -> Notes:
    on = m.onset[idx] - m.onset[idx[0]]
    ioi = np.append(np.diff(m.onset[idx]), m.duration[idx[-1]])
    return Notes(m.pitch[idx].astype(float), on, ioi.copy(), m.bar[idx].astype(int), np.full(len(idx), part))


def make_query(kind: str, source: int, n_bars: int, recipe: Recipe, fillers: tuple[int, int], mels: list[Melody],
               rng: np.random.Generator, seed: int = 0) -> QuerySpec | None:
    m = mels[source]
    b0 = pick_phrase(m, n_bars, rng)
    if b0 is None:
        return None
    q = extract(m, phrase(m, b0, n_bars), 1)
    u = tune_unit(m)
    scale_set = _scale_set(m)
    # changed notes (inside the quotation only)
    n_changed = int(rng.choice(recipe.changed))
    for i in rng.choice(len(q.pitch), size=min(n_changed, len(q.pitch)), replace=False):
        near = scale_set[(np.abs(scale_set - q.pitch[i]) >= 1) & (np.abs(scale_set - q.pitch[i]) <= 4)]
        q.pitch[i] = float(rng.choice(near)) if len(near) else q.pitch[i] + 2
    # fillers: a few bars of other non-catalog tunes, at the quotation's note values and register
    parts = []
    for where, f in zip((0, 2), fillers):
        fm = mels[f]
        nb = int(rng.integers(2, 5))
        fb = pick_phrase(fm, nb, rng, min_notes=3)
        if fb is None:
            fb = pick_phrase(fm, 1, rng, min_notes=1) or 1
            nb = 1
        fn = extract(fm, phrase(fm, fb, nb), where)
        ratio = u / tune_unit(fm)
        ratio = 2.0 ** round(np.log2(ratio))
        fn.onset *= ratio
        fn.dur *= ratio
        fn.pitch += round(np.mean(q.pitch) - np.mean(fn.pitch))
        fn.bar = fn.bar - fn.bar.min() + (1000 if where == 0 else 2000)
        parts.append(fn)
    before, after = parts
    clean = np.concatenate([before.pitch, m.pitch[phrase(m, b0, n_bars)], after.pitch])
    q.onset += before.onset[-1] + before.dur[-1]
    after.onset += q.onset[-1] + q.dur[-1]
    notes = before.cat(q).cat(after)
    if recipe.ornaments:
        notes = ornament(notes, recipe.ornaments, u, scale_set, rng)
    if recipe.jitter:
        notes = jitter(notes, u, rng)
    transpose = int(rng.integers(-7, 8))
    notes.pitch = notes.pitch + transpose
    scale = float(rng.choice(recipe.scales))
    notes.onset *= scale
    notes.dur *= scale
    # a performance tempo: the commonest note lasts 0.15-0.45 s
    unit_s = float(rng.uniform(0.15, 0.45))
    qpm = 60.0 * u * scale / unit_s
    qpm = float(np.clip(qpm, 30, 400))
    inq = notes.part == 1
    span = (float(notes.onset[inq].min()), float((notes.onset[inq] + notes.dur[inq]).max()))
    return QuerySpec(kind, source, (b0, b0 + n_bars - 1), n_bars, recipe.name, transpose, scale, qpm, n_changed,
                     fillers, notes, span, seed, clean)


def ornament(n: Notes, prob: float, u: float, scale_set: np.ndarray, rng: np.random.Generator) -> Notes:
    out = {f: [] for f in ("pitch", "onset", "dur", "bar", "part")}

    def emit(p, o, d, k):
        out["pitch"].append(p); out["onset"].append(o); out["dur"].append(d)
        out["bar"].append(n.bar[k]); out["part"].append(n.part[k])

    for k in range(len(n.pitch)):
        p, o, d = n.pitch[k], n.onset[k], n.dur[k]
        if d < 0.75 * u or rng.random() >= prob:
            emit(p, o, d, k)
            continue
        up, lo = _neighbour(p, scale_set, True), _neighbour(p, scale_set, False)
        kind = rng.choice(["cut", "tap", "roll", "turn", "trill", "passing", "repeat"],
                          p=[0.3, 0.15, 0.15, 0.15, 0.1, 0.1, 0.05])
        g = min(u / 4, d / 4)
        if kind == "cut":
            emit(up, o, g, k); emit(p, o + g, d - g, k)
        elif kind == "tap":
            emit(lo, o, g, k); emit(p, o + g, d - g, k)
        elif kind == "roll" and d >= 1.4 * u:
            parts = np.array([0.3, 0.1, 0.25, 0.1, 0.25]) * d
            for pp, dd, oo in zip([p, up, p, lo, p], parts, o + np.concatenate([[0], np.cumsum(parts)[:-1]])):
                emit(pp, oo, dd, k)
        elif kind == "turn":
            for j, pp in enumerate([up, p, lo, p]):
                emit(pp, o + j * d / 4, d / 4, k)
        elif kind == "trill":
            c = 4 if d < 1.5 * u else 6
            for j in range(c):
                emit(p if j % 2 == 0 else up, o + j * d / c, d / c, k)
        elif kind == "passing" and k + 1 < len(n.pitch) and abs(n.pitch[k + 1] - p) >= 3:
            step = _neighbour(p, scale_set, n.pitch[k + 1] > p)
            emit(p, o, d / 2, k); emit(step, o + d / 2, d / 2, k)
        elif kind == "repeat":
            emit(p, o, d / 2, k); emit(p, o + d / 2, d / 2, k)
        else:
            emit(up, o, g, k); emit(p, o + g, d - g, k)
    return Notes(*(np.array(out[f], dtype=float if f in ("pitch", "onset", "dur") else int)
                   for f in ("pitch", "onset", "dur", "bar", "part")))


def jitter(n: Notes, u: float, rng: np.random.Generator) -> Notes:
    """Swing or dotted pairs, occasional re-rhythmed pairs, and timing noise."""
    on = n.onset.copy()
    d = n.dur.copy()
    mode = rng.choice(["straight", "swing", "dotted"], p=[0.4, 0.35, 0.25])
    k = 0
    while k + 1 < len(on):
        pair = abs(d[k] - u) < 1e-6 and abs(d[k + 1] - u) < 1e-6 and abs((on[k] / u) % 2) < 1e-6
        if pair:
            r = None
            if mode == "swing":
                r = 4 / 3
            elif mode == "dotted":
                r = 1.5
            if rng.random() < 0.15:
                r = rng.choice([1.5, 0.5, 1.0])
            if r is not None:
                d[k], d[k + 1] = r * u, (2 - r) * u
                on[k + 1] = on[k] + d[k]
            k += 2
        else:
            k += 1
    noise = rng.normal(0, 0.06 * u, len(on))
    new_on = on + noise
    new_on[0] = on[0]
    for k in range(1, len(on)):
        new_on[k] = max(new_on[k], new_on[k - 1] + 0.3 * (on[k] - on[k - 1]))
    end = on[-1] + d[-1]
    new_d = np.append(np.diff(new_on), end - new_on[-1])
    return Notes(n.pitch.copy(), new_on, np.maximum(new_d, 0.05 * u), n.bar.copy(), n.part.copy())


def to_melody(n: Notes, qpm: float) -> Melody:
    """In-memory symbolic query (no file round trip)."""
    from melody.notes import melody_from_arrays
    spb = 60.0 / qpm
    return melody_from_arrays(n.pitch, n.onset, n.dur, bar=np.zeros(len(n.pitch), int), seconds_per_beat=spb)


RELATED_STRETCH = 24
RELATED_MISMATCHES = 3
"""A query counts as 'related' to a catalog tune (a variant or a real quotation, never an unrelated negative)
when RELATED_STRETCH consecutive pitches of it (repeated notes collapsed, one transposition) equal a stretch of
the tune but for at most RELATED_MISMATCHES. Chance shares runs of ~11 pitches in this corpus; not 24."""


def _collapse(pitch: np.ndarray) -> np.ndarray:
    p = np.round(np.asarray(pitch)).astype(np.int64)
    keep = np.ones(len(p), dtype=bool)
    keep[1:] = p[1:] != p[:-1]
    return p[keep]


def _seeds(p: np.ndarray, n: int = 8) -> list[tuple[bytes, int]]:
    iv = np.clip(np.diff(p), -60, 60).astype(np.int8)
    return [(iv[s:s + n].tobytes(), s) for s in range(len(iv) - n + 1)]


def _longest(eq: np.ndarray, k: int) -> int:
    mis = np.concatenate([[-1], np.flatnonzero(~eq), [len(eq)]])
    if len(mis) - 2 <= k:
        return len(eq)
    return int(np.max(mis[k + 1:] - mis[:-(k + 1)] - 1))


class RelatedCheck:
    def __init__(self, mels: list[Melody], catalog: list[int]) -> None:
        self.seqs = {i: _collapse(mels[i].pitch) for i in catalog}
        self.index: dict[bytes, list[tuple[int, int]]] = {}
        for i, p in self.seqs.items():
            for g, s in _seeds(p):
                self.index.setdefault(g, []).append((i, s))

    def related(self, pitch: np.ndarray) -> tuple[int, int] | None:
        """(catalog tune, stretch length) of the longest near-identical stretch if it qualifies."""
        q = _collapse(pitch)
        best = None
        seen = set()
        for g, s in _seeds(q):
            for i, r in self.index.get(g, ()):
                d = r - s
                tr = int(self.seqs[i][r] - q[s])
                if (i, d, tr) in seen:
                    continue
                seen.add((i, d, tr))
                ref = self.seqs[i]
                lo, hi = max(0, -d), min(len(q), len(ref) - d)
                eq = q[lo:hi] + tr == ref[lo + d:hi + d]
                n = _longest(eq, RELATED_MISMATCHES)
                if n >= RELATED_STRETCH and (best is None or n > best[1]):
                    best = (i, n)
        return best


# ---------------------------------------------------------------------------------------------------------
# MIDI writing (standard MIDI file, format 1)

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


def midi_bytes(tracks: list[dict], qpm: float, numerator: int = 4, denominator: int = 4) -> bytes:
    """tracks: [{name, program, channel, notes: [(pitch, onset_ql, dur_ql, velocity)]}]."""
    tempo = int(round(60_000_000 / qpm))
    meta = [(0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
            (0, b"\xff\x58\x04" + bytes([numerator, int(np.log2(denominator)), 24, 8]))]
    chunks = [_track(meta)]
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
        chunks.append(_track(ev))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), TPQ)
    return header + b"".join(chunks)


def query_midi(spec: "QuerySpec", program: int = 73, legato: float = 0.95) -> bytes:
    n = spec.notes
    notes = [(p, o, d * legato, 90) for p, o, d in zip(n.pitch, n.onset, n.dur)]
    return midi_bytes([{"name": "Melody", "program": program, "channel": 0, "notes": notes}], spec.qpm)


# ---------------------------------------------------------------------------------------------------------
# accompaniment, rendering, mixing

SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
LEADS = {"flute": 73, "violin": 40, "clarinet": 71, "trumpet": 56, "accordion": 21}
_TRIADS = [(r, q) for r in range(12) for q in ("maj", "min")]


def _chord(pcs_weight: np.ndarray) -> tuple[int, str]:
    best, best_s = (0, "maj"), -1.0
    for r, q in _TRIADS:
        third = 4 if q == "maj" else 3
        s = pcs_weight[r] * 1.2 + pcs_weight[(r + third) % 12] + pcs_weight[(r + 7) % 12]
        if s > best_s:
            best, best_s = (r, q), s
    return best


def accompaniment(spec: QuerySpec, rng: np.random.Generator, style: str | None = None,
                  drums: bool | None = None) -> tuple[list[dict], str]:
    """Chords per source bar under the query (piano, guitar or strings + bass), optionally a drum kit."""
    n = spec.notes
    style = style or str(rng.choice(["piano", "guitar", "strings"]))
    drums = bool(rng.random() < 0.5) if drums is None else drums
    u = float(np.median(n.dur))
    pulse = 2 * u
    seg_start = [0]
    for k in range(1, len(n.pitch)):
        if n.bar[k] != n.bar[k - 1] or n.part[k] != n.part[k - 1]:
            seg_start.append(k)
    seg_start.append(len(n.pitch))
    end_all = float(n.onset[-1] + n.dur[-1])
    chords, bass, kit = [], [], []
    for a, b in zip(seg_start[:-1], seg_start[1:]):
        t0 = float(n.onset[a])
        t1 = float(n.onset[b]) if b < len(n.pitch) else end_all
        w = np.zeros(12)
        np.add.at(w, np.round(n.pitch[a:b]).astype(int) % 12, n.dur[a:b])
        root, q = _chord(w)
        third = 4 if q == "maj" else 3
        tones = [48 + root, 48 + (root + third) % 12 + (12 if (root + third) % 12 < root else 0), 48 + (root + 7) % 12 + (12 if (root + 7) % 12 < root else 0)]
        tones = [t + 12 if t < 52 else t for t in tones]
        bass_note = 36 + root
        t = t0
        k = 0
        while t < t1 - 1e-6:
            d = min(pulse, t1 - t)
            if style == "piano":
                if k % 2 == 0:
                    bass.append((bass_note, t, d * 0.9, 80))
                else:
                    chords += [(p, t, d * 0.8, 70) for p in tones]
            elif style == "guitar":
                chords += [(p, t + 0.01 * j, d * 0.9, 75) for j, p in enumerate(tones)]
                if k % 2 == 0:
                    bass.append((bass_note, t, d * 0.9, 85))
            k += 1
            t += pulse
        if style == "strings":
            chords += [(p, t0, t1 - t0, 65) for p in tones]
            bass.append((bass_note, t0, t1 - t0, 85))
    if drums:
        t, k = 0.0, 0
        while t < end_all - 1e-6:
            kit.append((36 if k % 2 == 0 else 38, t, pulse * 0.5, 90))
            kit.append((42, t, pulse * 0.25, 60))
            kit.append((42, t + pulse / 2, pulse * 0.25, 50))
            t += pulse
            k += 1
    prog = {"piano": 0, "guitar": 25, "strings": 48}[style]
    tracks = [{"name": "Chords", "program": prog, "channel": 1, "notes": chords},
              {"name": "Bass", "program": 32, "channel": 2, "notes": bass}]
    if kit:
        tracks.append({"name": "Drums", "channel": 9, "notes": kit})
    return tracks, style + ("+drums" if drums else "")


def render(midi: bytes, workdir: str, name: str, rate: int = 22_050) -> np.ndarray:
    import soundfile as sf
    import subprocess
    mid = os.path.join(workdir, name + ".mid")
    wav = os.path.join(workdir, name + ".wav")
    with open(mid, "wb") as f:
        f.write(midi)
    subprocess.run(["fluidsynth", "-ni", "-g", "0.8", "-F", wav, "-r", str(rate), SF2, mid],
                   check=True, capture_output=True)
    x, sr = sf.read(wav, dtype="float32")
    os.unlink(mid)
    os.unlink(wav)
    if x.ndim == 2:
        x = x.mean(axis=1)
    return x


def mix(melody: np.ndarray, accomp: np.ndarray | None, snr_db: float | None) -> np.ndarray:
    """Melody over accompaniment with melody-to-accompaniment RMS ratio `snr_db`; None = melody alone."""
    n = len(melody) if accomp is None else max(len(melody), len(accomp))
    out = np.zeros(n, dtype=np.float64)
    out[:len(melody)] += melody
    if accomp is not None and snr_db is not None:
        rm = np.sqrt(np.mean(melody.astype(np.float64) ** 2))
        ra = np.sqrt(np.mean(accomp.astype(np.float64) ** 2)) + 1e-12
        out[:len(accomp)] += accomp * (rm / ra) * 10 ** (-snr_db / 20)
    peak = np.max(np.abs(out)) + 1e-12
    return (out * (0.9 / peak)).astype(np.float32)


def truth_f0(spec: QuerySpec, times: np.ndarray, legato: float = 0.95) -> np.ndarray:
    """Ground-truth f0 (Hz, 0 = silent) of the rendered melody at `times`."""
    spb = 60.0 / spec.qpm
    f = np.zeros(len(times))
    n = spec.notes
    for p, o, d in zip(n.pitch, n.onset, n.dur):
        a, b = o * spb, (o + d * legato) * spb
        f[(times >= a) & (times < b)] = 440.0 * 2 ** ((p - 69) / 12)
    return f
