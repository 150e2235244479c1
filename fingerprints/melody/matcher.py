"""The melody catalog as screening sees it: windows in a FAISS index for candidates, notes for verification.

match(melody), for each reading of the query (QUERY_REDUCTIONS):
 1. reduce the query's ornaments;
 2. cut a window at every note (represent.windows: tempo- and transposition-invariant) and look up the
    nearest reference windows;
 3. vote: each query window supports a work once; the best-supported works are re-ranked by how many
    windows agree on one offset (a true quotation lines up, chance look-alikes do not); the agreeing
    windows give the tempo ratio (span against span) and the transposition (mean against mean);
 4. align the stretch of the query behind each shortlisted hypothesis with the whole reference
    (align.align), keep the best alignment per work and quoted stretch;
 5. score it against the background null (score.NullModel) for the catalog as searched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fingerprints.atomic import replacing
from fingerprints.melody.align import DEFAULT_PARAMS, TRANSCRIBED_PARAMS, Alignment, AlignParams, align
from fingerprints.melody.index import MelodyIndex, split_ids
from fingerprints.melody.notes import Melody
from fingerprints.melody.represent import (
    SHORT_RATIO,
    WINDOW_NOTES,
    PatternWeights,
    collapse,
    consolidate,
    ioi,
    main_pitch,
    pattern_keys,
    unit,
    windows,
)
from fingerprints.melody.score import NOTATED_NULL, TRANSCRIBED_NULL, NullModel

NEIGHBOURS = 32
SHORTLIST = 48
"""Hypotheses verified per reading of a query (QUERY_REDUCTIONS), one per work: a work may be verified once
under each reading."""
OFFSET_BIN = 4
"""Notes: windows whose implied position of the query in the reference agrees within this vote together."""
MAX_FALSE_MATCH = 0.01
"""Default decision threshold on a match's false_match_probability (score >= 0.99). With the calibrated null
(score.NullModel) it is the per-query probability that music quoting nothing yields any match; measured
on symbolic and audio negatives by scripts/bench/run-melody (docs/benchmarks.md). Not tuned per condition."""
MIN_QUERY_NOTES = 6
VERIFY_MARGIN_NOTES = 16
"""Query notes either side of the agreeing windows that verification also aligns."""
REFERENCE_ANCHOR_METRIC = 0.0
"""Reference windows start on notes at least this metrically strong (0: every note; measured better than
beats only, which halves the index but loses short quotations)."""
REFERENCE_SPANS = (WINDOW_NOTES - 1, WINDOW_NOTES, WINDOW_NOTES + 1)
"""Reference windows are cut over these many notes; query windows over WINDOW_NOTES."""
_ANCHOR_BITS = 18
_ANCHOR_MASK = (1 << _ANCHOR_BITS) - 1
_SIGMA2 = 4.0


@dataclass
class Reference:
    """What verification needs of one work, derived from its stored Melody."""

    melody: Melody
    reduced: Melody
    starts: np.ndarray
    unit: float
    ioi_units: np.ndarray
    anchor_onset: np.ndarray
    """Beats, per collapsed note (windows start at collapsed notes)."""
    anchor_span: np.ndarray
    window_mean: np.ndarray
    weights: np.ndarray
    keys: np.ndarray
    median_ioi: float


@dataclass(frozen=True)
class NotePair:
    """One step of the alignment behind a match, for the evidence report.

    `kind`: "match" (one query note for one reference note; the pitches may differ: a changed note),
    "consolidated" (several query notes, e.g. an ornament or a split note, for one reference note),
    "fragmented" (one query note for several reference notes), "inserted" (a query note with no
    reference counterpart: the query side only) or "deleted" (a reference note the query skips: the
    reference side only). Onsets are seconds from the start of each melody (the reference at its own
    notated tempo, 120 quarter notes a minute if it states none); pitches are MIDI note numbers (for a
    group, the duration-weighted main pitch); the reference pitch is as notated, not transposed.
    Indices are half-open note ranges into the melodies as given (before ornament reduction).
    Conversion to takedown.report.NotePair: take the pairs with `aligned` true and pass
    (query_onset, round(query_pitch), reference_onset, round(reference_pitch), reference_bar).
    """

    kind: str
    query_onset: float | None
    query_pitch: float | None
    reference_onset: float | None
    reference_pitch: float | None
    reference_bar: int | None
    query_lo: int
    query_hi: int
    reference_lo: int
    reference_hi: int

    @property
    def aligned(self) -> bool:
        return self.query_onset is not None and self.reference_onset is not None


@dataclass(frozen=True)
class MelodyMatch:
    """A stretch of the query that quotes a stretch of one reference tune.

    `score` = 1 - false_match_probability, where false_match_probability is the estimated probability
    that an unrelated melody of the same style (a folk/popular tune that quotes nothing) aligns with some
    work of the catalog at least this well, corrected for the number of works (catalog notes) searched
    and the length of the query (extreme-value law fitted on background queries; see score.py).
    """

    work_number: int
    score: float
    false_match_probability: float
    query_start: float
    """Seconds from the start of the query."""
    query_end: float
    reference_start: float
    """Seconds from the start of the reference at its own tempo (notated tempo, 120 quarter notes a minute
    if none, for symbolic references; real seconds for audio references)."""
    reference_end: float
    reference_first_bar: int
    """Bars of the reference holding the first and last quoted notes: music21 measure numbers for symbolic
    references (a pickup is bar 0), beat-tracked bars for audio references. A score is matched as played
    (symbolic._played_order), so a quotation through a repeat sign can end in an earlier bar than it starts; the
    pairs give every note's bar."""
    reference_last_bar: int
    reference_beats: tuple[float, float]
    """The same stretch of the reference in beats (quarter notes for scores) from its start."""
    transposition_semitones: float
    """Semitones from the reference up to the query."""
    tempo_ratio: float
    """How much faster the query plays the passage than the reference (reference seconds over query
    seconds for the matched stretch)."""
    alignment_score: float
    matched_notes: int
    """Aligned groups (matches, consolidations, fragmentations); insertions and deletions not counted."""
    pairs: tuple[NotePair, ...] = field(repr=False, default=())

    @property
    def reference_bars(self) -> tuple[int, int]:
        return self.reference_first_bar, self.reference_last_bar


_KINDS = {1: "match", 2: "inserted", 3: "deleted", 4: "consolidated", 5: "fragmented"}


class MelodyMatcher:
    """Candidates from the FAISS window index, verified by local alignment against the reference notes.

    Not thread-safe for writes; the caller serialises add/remove against match.
    """

    def __init__(self, index: MelodyIndex, references: dict[int, Reference], patterns: PatternWeights,
                 null: NullModel | None = None, params: AlignParams = DEFAULT_PARAMS) -> None:
        self.index = index
        self._refs = references
        self.patterns = patterns
        self.null = null or NOTATED_NULL
        self.params = params
        self.transcribed_null = TRANSCRIBED_NULL
        self.transcribed_params = TRANSCRIBED_PARAMS
        """Alignment costs and null for queries transcribed from audio (align.TRANSCRIBED_PARAMS)."""
        self.catalog_notes = sum(len(r.reduced) for r in references.values())

    @classmethod
    def build(cls, references: Iterable[tuple[int, Melody]], *, null: NullModel | None = None,
              params: AlignParams = DEFAULT_PARAMS, weighted: bool = True) -> "MelodyMatcher":
        prepared = {n: _prepare(m) for n, m in references}
        patterns = PatternWeights()
        if weighted:
            for r in prepared.values():
                patterns.add(r.keys)
            sample = [r.keys for r in list(prepared.values())[:: max(1, len(prepared) // 2000)]]
            patterns.freeze(sample)
        for r in prepared.values():
            r.weights = patterns.note_weights(r.reduced.pitch) if weighted else np.ones(len(r.reduced))
        entries = []
        for n, r in prepared.items():
            vecs, anchors = _reference_windows(r)
            entries.append((n, vecs, anchors))
        index = MelodyIndex.build(entries)
        return cls(index, prepared, patterns, null, params)

    @property
    def works(self) -> int:
        return len(self._refs)

    def work_numbers(self) -> list[int]:
        return sorted(self._refs)

    def reference(self, work_number: int) -> Reference | None:
        return self._refs.get(work_number)

    def add(self, work_number: int, melody: Melody) -> None:
        if work_number in self._refs:
            self.remove(work_number)
        r = _prepare(melody)
        self.patterns.add(r.keys)
        r.weights = self.patterns.note_weights(r.reduced.pitch) if self.patterns.works else np.ones(len(r.reduced))
        self._refs[work_number] = r
        self.catalog_notes += len(r.reduced)
        vecs, anchors = _reference_windows(r)
        self.index.add(work_number, vecs, anchors)
        if self.index.outgrown:
            self.rebuild_index()

    def rebuild_index(self) -> None:
        """Retrain the FAISS index on the current references (the catalog has outgrown it)."""
        entries = []
        for n, r in self._refs.items():
            vecs, anchors = _reference_windows(r)
            entries.append((n, vecs, anchors))
        self.index = MelodyIndex.build(entries)

    def memory_bytes(self) -> int:
        """Approximate resident size: the FAISS index plus the reference note arrays kept for verification."""
        notes = sum(len(r.melody) * 64 + len(r.reduced) * 96 for r in self._refs.values())
        return self.index.memory_bytes() + notes

    # -- persistence (rebuilding 10,000 tunes takes ~6 s on one core; loading ~1 s) ------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the index and everything derived from the reference melodies to one file, atomically.
        The melodies themselves are not stored (the database has them); `load` is given them again."""
        import faiss
        numbers = sorted(self._refs)
        refs = [self._refs[n] for n in numbers]
        arrays: dict[str, np.ndarray] = {
            "numbers": np.array(numbers, dtype=np.int64),
            "digests": np.frombuffer(b"".join(_digest(r.melody) for r in refs), dtype=np.uint8).reshape(-1, 20),
            "faiss": faiss.serialize_index(self.index._index),
            "scalars": np.array([[r.unit, r.median_ioi] for r in refs], dtype=np.float64).reshape(-1, 2),
            "df_keys": np.array(list(self.patterns.df), dtype=np.int64),
            "df_vals": np.array(list(self.patterns.df.values()), dtype=np.int64),
            "pattern_meta": np.array([self.patterns.works, self.patterns.mean_idf], dtype=np.float64),
        }
        for name in _SAVED_REDUCED:
            arrays["reduced_" + name] = _cat([getattr(r.reduced, name) for r in refs])
        arrays["reduced_len"] = np.array([len(r.reduced) for r in refs], dtype=np.int64)
        for name in ("starts", "ioi_units", "weights", "keys"):
            arrays[name] = _cat([getattr(r, name) for r in refs])
        arrays["anchor_len"] = np.array([len(r.anchor_onset) for r in refs], dtype=np.int64)
        arrays["anchor_onset"] = _cat([r.anchor_onset for r in refs])
        arrays["anchor_span"] = _cat([r.anchor_span.T for r in refs]).reshape(-1, len(REFERENCE_SPANS))
        arrays["window_mean"] = _cat([r.window_mean.T for r in refs]).reshape(-1, len(REFERENCE_SPANS))
        with replacing(Path(path)) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, format=np.array(_SAVE_FORMAT), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, references: Iterable[tuple[int, Melody]], *,
             null: NullModel | None = None, params: AlignParams = DEFAULT_PARAMS) -> "MelodyMatcher":
        """The matcher saved at `path`, provided it was saved from exactly these references (same work numbers,
        same melodies); otherwise, or if the file is missing or unreadable, one built afresh from them."""
        import faiss
        references = list(references)
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != _SAVE_FORMAT:
                    raise ValueError("format")
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            return cls.build(references, null=null, params=params)
        given = {int(n): m for n, m in references}
        numbers = data["numbers"].tolist()
        digests = [bytes(row) for row in data["digests"]]
        if sorted(given) != numbers or any(_digest(given[n]) != d for n, d in zip(numbers, digests)):
            return cls.build(references, null=null, params=params)
        red_off = np.concatenate([[0], np.cumsum(data["reduced_len"])])
        anc_off = np.concatenate([[0], np.cumsum(data["anchor_len"])])
        refs: dict[int, Reference] = {}
        for k, n in enumerate(numbers):
            a, b = red_off[k], red_off[k + 1]
            c, d = anc_off[k], anc_off[k + 1]
            reduced = Melody(*(data["reduced_" + f][a:b] for f in _SAVED_REDUCED), source=given[n].source)
            refs[n] = Reference(given[n], reduced, data["starts"][a:b], float(data["scalars"][k, 0]),
                                data["ioi_units"][a:b], data["anchor_onset"][c:d],
                                data["anchor_span"][c:d].T.copy(), data["window_mean"][c:d].T.copy(),
                                data["weights"][a:b], data["keys"][a:b], float(data["scalars"][k, 1]))
        patterns = PatternWeights()
        patterns.df = dict(zip(data["df_keys"].tolist(), data["df_vals"].tolist()))
        patterns.works = int(data["pattern_meta"][0])
        patterns.mean_idf = float(data["pattern_meta"][1])
        index = MelodyIndex(faiss.deserialize_index(data["faiss"]))
        return cls(index, refs, patterns, null, params)

    def remove(self, work_number: int) -> None:
        r = self._refs.pop(work_number, None)
        if r is not None:
            self.index.remove(work_number)
            self.patterns.add(r.keys, sign=-1)
            self.catalog_notes -= len(r.reduced)

    # -- matching -----------------------------------------------------------------------------------------

    def candidates(self, query: "Query", *, shortlist: int = SHORTLIST,
                   neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> list["Hypothesis"]:
        """Best-supported (work, tempo ratio, offset, transposition) hypotheses, strongest first.
        `neighbours`: the query's entry of `MelodyMatcher.neighbours`, when its windows were already searched."""
        if not len(query.vectors):
            return []
        dist, ids = neighbours if neighbours is not None else self.index.search(query.vectors, NEIGHBOURS)
        valid = ids >= 0
        rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)[valid]
        d = dist[valid]
        works, packed = split_ids(ids[valid])
        variant, notes = packed >> _ANCHOR_BITS, packed & _ANCHOR_MASK
        weight = np.exp(-d / (_SIGMA2 * 16))
        # Hough vote on (work, note offset): a quotation's windows agree on where the query sits in the
        # reference, up to a few inserted or dropped notes; two staggered grids of OFFSET_BIN-note bins.
        shift = notes - query.anchor_index[rows]
        if not len(shift):
            return []
        # keys number (work, offset cell) densely: offsets span as many cells as the query and references need
        voting_works, work_of = np.unique(works, return_inverse=True)
        hyps: list[Hypothesis] = []
        best: dict[int, tuple[float, np.ndarray]] = {}
        for stagger in (0, OFFSET_BIN // 2):
            cell = (shift + stagger) // OFFSET_BIN
            cell -= cell.min()
            cells = int(cell.max()) + 1
            key = work_of.astype(np.int64) * cells + cell
            order = np.lexsort((-weight, rows, key))
            k_o, r_o = key[order], rows[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = (k_o[1:] != k_o[:-1]) | (r_o[1:] != r_o[:-1])
            sel = order[first]
            ukeys, inv, counts = np.unique(key[sel], return_inverse=True, return_counts=True)
            votes = np.bincount(inv, weights=weight[sel])
            group_order = np.argsort(inv, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(counts)])
            for t in np.argsort(-votes)[: 4 * shortlist].tolist():
                work = int(voting_works[ukeys[t] // cells])
                if work not in best or votes[t] > best[work][0]:
                    best[work] = (float(votes[t]), sel[group_order[bounds[t]:bounds[t + 1]]])
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:shortlist]
        for work, (support, m) in ranked:
            ref = self._refs.get(work)
            if ref is None:
                continue
            m = m[_main_run(query.anchor_index[rows[m]], weight[m])]
            qrow, rnote, rvar = rows[m], notes[m], variant[m]
            ratio = ref.anchor_span[rvar, rnote] / query.anchor_span[qrow]
            trans = query.window_mean[qrow] - ref.window_mean[rvar, rnote]
            hyps.append(Hypothesis(work, float(np.median(ratio)), float(np.median(shift[m])),
                                   float(np.median(trans)), support,
                                   float(query.anchor_onset[qrow].min()),
                                   float((query.anchor_onset[qrow] + query.anchor_span[qrow]).max()),
                                   float(ref.anchor_onset[rnote].min()),
                                   float((ref.anchor_onset[rnote] + ref.anchor_span[rvar, rnote]).max())))
        hyps.sort(key=lambda h: -h.support)
        return hyps[:shortlist]

    def neighbours(self, queries: list["Query"]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each query's (distances, ids) of the NEIGHBOURS nearest reference windows of its windows, searching
        a window that several readings share once: the readings differ only around ornaments (a 3-minute
        transcription's three readings: 1,161 windows, 742 distinct), and the search is most of the cost of
        matching a long track."""
        if not queries:
            return []
        distinct, inverse = np.unique(np.concatenate([q.vectors for q in queries]), axis=0, return_inverse=True)
        dist, ids = self.index.search(distinct, NEIGHBOURS)
        bounds = np.cumsum([0] + [len(q.vectors) for q in queries])
        rows = [inverse.ravel()[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
        return [(dist[r], ids[r]) for r in rows]

    def verify(self, query: "Query", hyp: "Hypothesis") -> tuple[Alignment, float, np.ndarray] | None:
        """Align the stretch of the query behind `hyp` with the stretch of the reference behind it, each
        widened by VERIFY_MARGIN_NOTES; (alignment, transposition, query note indices aligned). Alignment
        indices address the whole reference."""
        ref = self._refs[hyp.work]
        margin = VERIFY_MARGIN_NOTES * query.median_ioi
        on = query.reduced.onset
        sel = np.flatnonzero((on >= hyp.query_lo - margin) & (on <= hyp.query_hi + margin))
        if len(sel) < 2:
            return None
        r_margin = VERIFY_MARGIN_NOTES * ref.median_ioi
        r_lo = int(np.searchsorted(ref.reduced.onset, hyp.reference_lo - r_margin, side="left"))
        r_hi = max(int(np.searchsorted(ref.reduced.onset, hyp.reference_hi + r_margin, side="right")), r_lo + 1)
        rp, rd, rw = ref.reduced.pitch[r_lo:r_hi], ref.ioi_units[r_lo:r_hi], ref.weights[r_lo:r_hi]
        qd = query.ioi[sel] * hyp.scale / ref.unit
        qp = query.reduced.pitch[sel]
        best = None
        tried = set()
        # transpositions are whole semitones from the query's own tuning; the window means only say roughly
        # which, so the neighbours are tried too, then the best is refined from its matched notes
        base = round(hyp.transposition - query.tuning)
        todo = [base, base - 1, base + 1]
        while todo and len(tried) < 5:
            step = todo.pop(0)
            if step in tried:
                continue
            tried.add(step)
            trans = step + query.tuning
            al = align(qp - trans, qd, rp, rd, rw, self.transcribed_params if query.transcribed else self.params)
            if best is None or al.score > best[0].score:
                best = (al, trans)
                subs = al.pairs[al.pairs[:, 4] == 1] if len(al.pairs) else al.pairs
                if len(subs) >= 4:
                    med = float(np.median(qp[subs[:, 0]] - rp[subs[:, 2]]))
                    todo.insert(0, round(med - query.tuning))
        al, trans = best
        return al.shifted(reference=r_lo), trans, sel

    def match(self, melody: Melody, *, max_false_match: float = MAX_FALSE_MATCH,
              shortlist: int = SHORTLIST, transcribed: bool | None = None) -> list[MelodyMatch]:
        """Every quotation of a catalog work in `melody` whose false-match probability is at most
        `max_false_match`, strongest first, one per work and stretch of the query. `transcribed` says whether
        the melody was transcribed from audio (scored with the transcription's alignment costs and null);
        by default, when its pitches are not all whole semitones."""
        found: list[_Verified] = []
        queries = prepare_queries(melody, transcribed=transcribed)
        for query, near in zip(queries, self.neighbours(queries)):
            null = self.transcribed_null if query.transcribed else self.null
            for hyp in self.candidates(query, shortlist=shortlist, neighbours=near):
                res = self.verify(query, hyp)
                if res is None:
                    continue
                al, trans, sel = res
                p = null.false_match_probability(al.score, len(query.reduced), self.catalog_notes)
                if p > max_false_match:
                    continue
                notes = _aligned_query_notes(query, al, sel)
                if notes is None:
                    continue
                found.append(_Verified(hyp.work, p, al.score, *_query_seconds(query, *notes),
                                       (query, hyp, al, trans, sel)))
        # only the matches kept are described: a whole track matches its own work many times over
        return [self._describe(v) for v in _strongest_per_stretch(found)]

    def _describe(self, v: "_Verified") -> MelodyMatch:
        """The match behind a verified alignment, with its note pairs."""
        query, hyp, al, trans, sel = v.verified
        p = v.false_match_probability
        ref = self._refs[hyp.work]
        qm, rm = query.melody, ref.melody
        q_bounds = np.concatenate([query.starts, [len(qm)]])
        r_bounds = np.concatenate([ref.starts, [len(rm)]])
        pairs = []
        matched = 0
        for qlo, qhi, rlo, rhi, op in al.pairs.tolist():
            kind = _KINDS[op]
            if op == 3:  # deleted reference note: query side empty
                or_lo, or_hi = int(r_bounds[rlo]), int(r_bounds[rhi])
                q_at = int(q_bounds[sel[min(qlo, len(sel) - 1)]])
                pairs.append(NotePair(kind, None, None, float(rm.start[or_lo]), float(ref.reduced.pitch[rlo]),
                                      int(rm.bar[or_lo]), q_at, q_at, or_lo, or_hi))
                continue
            oq_lo, oq_hi = int(q_bounds[sel[qlo]]), int(q_bounds[sel[qhi - 1] + 1])
            if op == 2:
                r_at = int(r_bounds[min(rlo, len(ref.starts))])
                pairs.append(NotePair(kind, float(qm.start[oq_lo]), float(query.reduced.pitch[sel[qlo]]), None, None,
                                      None, oq_lo, oq_hi, r_at, r_at))
                continue
            or_lo, or_hi = int(r_bounds[rlo]), int(r_bounds[rhi])
            matched += 1
            qpitch = float(main_pitch(query.reduced.pitch[sel[qlo:qhi]], query.ioi[sel[qlo:qhi]]))
            rpitch = float(main_pitch(ref.reduced.pitch[rlo:rhi], ref.ioi_units[rlo:rhi]))
            pairs.append(NotePair(kind, float(qm.start[oq_lo]), qpitch, float(rm.start[or_lo]), rpitch,
                                  int(rm.bar[or_lo]), oq_lo, oq_hi, or_lo, or_hi))
        aligned = [pp for pp in pairs if pp.aligned]
        r_lo = min(pp.reference_lo for pp in aligned)
        r_hi = max(pp.reference_hi for pp in aligned)
        q_sec = v.query_end - v.query_start
        ref_sec = float(rm.end[r_hi - 1] - rm.start[r_lo])
        return MelodyMatch(
            work_number=hyp.work,
            score=1.0 - p,
            false_match_probability=p,
            query_start=v.query_start,
            query_end=v.query_end,
            reference_start=float(rm.start[r_lo]),
            reference_end=float(rm.end[r_hi - 1]),
            reference_first_bar=int(rm.bar[r_lo]),
            reference_last_bar=int(rm.bar[r_hi - 1]),
            reference_beats=(float(rm.onset[r_lo]), float(rm.onset[r_hi - 1] + rm.duration[r_hi - 1])),
            transposition_semitones=float(trans),
            tempo_ratio=ref_sec / q_sec if q_sec > 0 else float("nan"),
            alignment_score=al.score,
            matched_notes=matched,
            pairs=tuple(pairs),
        )


_SAVE_FORMAT = "guard-melody-matcher-2"
"""A saved matcher holds its references consolidated (represent.consolidate): a new name whenever that changes."""
_SAVED_REDUCED = ("pitch", "onset", "duration", "start", "end", "bar", "confidence", "metric")


def _digest(m: Melody) -> bytes:
    return hashlib.sha1(m.to_bytes()).digest()


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


def _aligned_query_notes(query: "Query", al: Alignment, sel: np.ndarray) -> tuple[int, int] | None:
    """The half-open range of the query's notes (as given, before reduction) that the alignment pairs with
    reference notes; None when it pairs none."""
    paired = al.pairs[np.isin(al.pairs[:, 4], (1, 4, 5))] if len(al.pairs) else al.pairs
    if not len(paired):
        return None
    bounds = np.concatenate([query.starts, [len(query.melody)]])
    return int(bounds[sel[paired[:, 0].min()]]), int(bounds[sel[paired[:, 1].max() - 1] + 1])


def _query_seconds(query: "Query", lo: int, hi: int) -> tuple[float, float]:
    """Seconds of the query notes lo..hi-1. The span ends with the note the alignment ends on, not long after
    (an audio note may ring on)."""
    m = query.melody
    return float(m.start[lo]), float(min(m.end[hi - 1], m.start[hi - 1] + 4 * query.median_ioi_s))


@dataclass(frozen=True)
class _Verified:
    """A verified alignment under the threshold, before it is described as a MelodyMatch."""

    work_number: int
    false_match_probability: float
    alignment_score: float
    query_start: float
    query_end: float
    verified: tuple
    """What MelodyMatcher._describe needs besides: (query, hypothesis, alignment, transposition, query note
    indices)."""


@dataclass(frozen=True)
class Hypothesis:
    work: int
    scale: float
    offset: float
    transposition: float
    support: float
    query_lo: float
    query_hi: float
    """Beats of the query covered by the agreeing windows."""
    reference_lo: float
    reference_hi: float
    """Beats of the reference covered by the same windows."""


@dataclass
class Query:
    melody: Melody
    reduced: Melody
    starts: np.ndarray
    ioi: np.ndarray
    median_ioi: float
    vectors: np.ndarray
    anchor_onset: np.ndarray
    anchor_span: np.ndarray
    anchor_index: np.ndarray
    window_mean: np.ndarray
    transcribed: bool
    """Transcribed from audio (scored with TRANSCRIBED_PARAMS and its null) rather than notated."""
    median_ioi_s: float = 0.5
    tuning: float = 0.0
    """Semitones (-0.5..0.5) by which the query's notes sit off the equal-tempered grid (audio only)."""


QUERY_REDUCTIONS = (0.2, 0.3, 0.45)
"""A query is reduced three times, treating notes shorter than 0.2, 0.3 and 0.45 of the local plain note as
ornaments, and every reading is searched and verified: where one sixteenth-note pickup or a jittered
note falls relative to a single threshold decides how the query reduces, and a reference reduces once.
Measured on the melody benchmark against two readings (0.2, 0.45), at 1% false positives: 8-bar ornamented
73.3 -> 75.3%, ornamented with jitter 66.0 -> 70.0%, audio at 0 dB 56 -> 60%, no row lower."""


def prepare_queries(melody: Melody, *, transcribed: bool | None = None) -> list[Query]:
    """The query under each of QUERY_REDUCTIONS that reduces it differently from the ones before."""
    out: list[Query] = []
    for ratio in QUERY_REDUCTIONS:
        query = prepare_query(melody, transcribed=transcribed, ratio=ratio)
        if query is not None and not any(np.array_equal(q.starts, query.starts) for q in out):
            out.append(query)
    return out


def prepare_query(melody: Melody, *, transcribed: bool | None = None, ratio: float = SHORT_RATIO) -> Query | None:
    """Reduce ornaments, cut a window at every (collapsed) note. `transcribed`: see MelodyMatcher.match."""
    if len(melody) < MIN_QUERY_NOTES:
        return None
    reduced, starts, _ = _reduce(melody, ratio)
    if len(reduced) < MIN_QUERY_NOTES:
        return None
    d = ioi(reduced)
    end = float(reduced.onset[-1] + d[-1])
    cp, con, _ = collapse(reduced.pitch, reduced.onset, end)
    vecs, anchors, span, mean = windows(cp, con, np.arange(len(cp)))
    integral = bool(np.all(np.abs(reduced.pitch - np.round(reduced.pitch)) < 1e-6))
    d_s = np.diff(np.append(reduced.start, reduced.end[-1]))
    frac = reduced.pitch - np.round(reduced.pitch)
    tuning = 0.0 if integral else float(np.angle(np.sum(reduced.duration * np.exp(2j * np.pi * frac))) / (2 * np.pi))
    transcribed = (not integral) if transcribed is None else transcribed
    return Query(melody, reduced, starts, d, float(np.median(d)), vecs, con[anchors], span, anchors, mean, transcribed,
                 float(np.median(d_s)), tuning)


def _reduce(melody: Melody, ratio: float = SHORT_RATIO) -> tuple[Melody, np.ndarray, float]:
    reduced, starts = consolidate(melody, ratio=ratio)
    return reduced, starts, unit(reduced)


def _prepare(melody: Melody) -> Reference:
    reduced, starts, u = _reduce(melody)
    d = ioi(reduced)
    n = len(reduced)
    return Reference(melody, reduced, starts, u, d / u, np.zeros(0), np.zeros(0), np.zeros(0), np.ones(n),
                     pattern_keys(reduced.pitch), float(np.median(d)) if n else 1.0)


def _reference_windows(r: Reference) -> tuple[np.ndarray, np.ndarray]:
    """Windows at every collapsed note, over each of REFERENCE_SPANS notes, so that a query window that
    gained or lost a note (an ornament or passing note left after reduction, a merged note) still has a
    reference window covering the same music. Ids address (span variant, collapsed note)."""
    red = r.reduced
    d = ioi(red)
    end = float(red.onset[-1] + d[-1]) if len(red) else 0.0
    cp, con, cidx = collapse(red.pitch, red.onset, end)
    strong = np.flatnonzero(red.metric[cidx] >= REFERENCE_ANCHOR_METRIC)
    r.anchor_onset = con[:-1].copy()
    r.anchor_span = np.full((len(REFERENCE_SPANS), len(cp)), np.nan)
    r.window_mean = np.full((len(REFERENCE_SPANS), len(cp)), np.nan)
    all_vecs, all_ids = [], []
    for v, notes in enumerate(REFERENCE_SPANS):
        vecs, anchors, span, mean = windows(cp, con, strong, notes=notes)
        r.anchor_span[v, anchors] = span
        r.window_mean[v, anchors] = mean
        all_vecs.append(vecs)
        all_ids.append((v << _ANCHOR_BITS) | anchors)
    return np.concatenate(all_vecs), np.concatenate(all_ids)


RUN_GAP_NOTES = 24
"""Collapsed query notes without an agreeing window that end a run of them (a changed note silences
WINDOW_NOTES windows; ornaments and jitter a few more)."""


def _main_run(anchor: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Which of one hypothesis's agreeing windows verification should look at: the run of them, along the
    query, with the most weight. A quotation's windows follow one another; chance agreements at the same
    offset are scattered over a long query, and aligning everything between them costs time and adds
    nothing but chance."""
    order = np.argsort(anchor, kind="stable")
    breaks = np.flatnonzero(np.diff(anchor[order]) > RUN_GAP_NOTES) + 1
    runs = np.split(order, breaks)
    return runs[int(np.argmax([weight[r].sum() for r in runs]))]


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(x)
    c = np.cumsum(w[o])
    return float(x[o][np.searchsorted(c, 0.5 * c[-1])])


def _strongest_per_stretch(matches: list[_Verified]) -> list[_Verified]:
    """Drop a match whose query stretch is mostly covered by a stronger match of the same work."""
    ordered = sorted(matches, key=lambda m: (m.false_match_probability, -m.alignment_score))
    kept: list[_Verified] = []
    for match in ordered:
        length = match.query_end - match.query_start
        if any(k.work_number == match.work_number
               and min(k.query_end, match.query_end) - max(k.query_start, match.query_start) > 0.5 * length
               for k in kept):
            continue
        kept.append(match)
    return kept
