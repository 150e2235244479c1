"""Scoring stage: turn an alignment score into the probability that unrelated music scores this high.

Best local-alignment scores of unrelated sequences follow an extreme-value
(Gumbel) law whose scale grows with the search space (Karlin and Altschul
1990): P(best >= S) = 1 - exp(-K * m * N * exp(-lambda * S)) for a query of
m notes searched against N catalog notes. lambda and K are fitted, by
maximum likelihood, to the best scores that background queries (unrelated
melodies of the same traditions, never the benchmark's negatives) reach
against the catalog through the whole pipeline, shortlist included; the
fitted law extrapolates to the small probabilities that matter. The
false-match probability is that number for the catalog as searched.

One law does not hold across catalog sizes: below a few thousand tunes the
shortlist verifies most of the catalog, and the best chance scores fall far
less with the catalog than N predicts (a law fitted at 10,000 tunes let 56% of
unrelated phrases through its 1% threshold against 20 tunes; docs/melody.md).
So the law is fitted at several catalog sizes, and between them its log
expectation is interpolated in log N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


@dataclass(frozen=True)
class Fit:
    """The law fitted at one catalog size: log E(S) = log_k + log m + log catalog_notes - lam * S."""

    catalog_notes: int
    lam: float
    log_k: float
    fitted_on: int
    """Number of background queries behind the fit."""

    def log_expectation(self, score: float, query_notes: int) -> float:
        return self.log_k + math.log(max(1, query_notes)) + math.log(max(1, self.catalog_notes)) - self.lam * score


@dataclass(frozen=True)
class NullModel:
    """Fits at ascending catalog sizes. Between two, log E is interpolated linearly in log N; beyond the
    largest it grows with N as the law says (measured calibrated from 2,000 to 10,000 tunes); below the
    smallest it stays that fit's (a smaller catalog's chance scores are lower, so this errs towards larger
    probabilities)."""

    fits: tuple[Fit, ...]

    def _segment(self, catalog_notes: int) -> tuple[Fit, Fit, float]:
        """The two fits around `catalog_notes` and the weight of the upper one (0 below the first fit)."""
        fits = self.fits
        n = max(1, catalog_notes)
        if n <= fits[0].catalog_notes:
            return fits[0], fits[0], 0.0
        for lower, upper in zip(fits, fits[1:]):
            if n <= upper.catalog_notes:
                span = math.log(upper.catalog_notes / lower.catalog_notes)
                return lower, upper, math.log(n / lower.catalog_notes) / span
        return fits[-1], fits[-1], 0.0

    def log_expectation(self, score: float, query_notes: int, catalog_notes: int) -> float:
        lower, upper, w = self._segment(catalog_notes)
        log_e = (1 - w) * lower.log_expectation(score, query_notes) + w * upper.log_expectation(score, query_notes)
        if catalog_notes > self.fits[-1].catalog_notes:
            log_e += math.log(catalog_notes / self.fits[-1].catalog_notes)
        return log_e

    def false_match_probability(self, score: float, query_notes: int, catalog_notes: int) -> float:
        log_e = self.log_expectation(score, query_notes, catalog_notes)
        if log_e > 30:
            return 1.0
        return float(-math.expm1(-math.exp(log_e)))

    def score_for(self, probability: float, query_notes: int, catalog_notes: int) -> float:
        """The alignment score whose false-match probability is `probability` (log E is linear in the score)."""
        target = math.log(-math.log1p(-probability))
        at0 = self.log_expectation(0.0, query_notes, catalog_notes)
        slope = at0 - self.log_expectation(1.0, query_notes, catalog_notes)
        return (at0 - target) / slope


def fit_null(scores: np.ndarray, query_notes: np.ndarray, catalog_notes: int, *, tail: float = 0.5) -> Fit:
    """Maximum-likelihood Gumbel fit of the best scores background queries reach against one catalog.

    Only the upper `tail` fraction is fitted exactly (the rest enters as left-censored), since the law is an
    asymptote for high scores and the low end is shaped by the shortlist."""
    s = np.asarray(scores, dtype=np.float64)
    log_mn = np.log(np.maximum(1, query_notes)) + math.log(max(1, catalog_notes))
    cut = np.quantile(s, 1 - tail)

    def nll(theta: np.ndarray) -> float:
        lam, log_k = math.exp(theta[0]), theta[1]
        log_e = log_k + log_mn - lam * s
        e = np.exp(np.minimum(log_e, 50))
        upper = s >= cut
        # density of the max: lam * e * exp(-e); censored: P(S < cut) = exp(-e(cut))
        ll_upper = np.log(lam) + log_e[upper] - e[upper]
        e_cut = np.exp(np.minimum(log_k + log_mn[~upper] - lam * cut, 50))
        ll_lower = -e_cut
        return -(ll_upper.sum() + ll_lower.sum())

    best = None
    for lam0 in (0.2, 0.5, 1.0, 2.0):
        x0 = np.array([math.log(lam0), float(np.median(lam0 * s - log_mn))])
        r = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 4000})
        if best is None or r.fun < best.fun:
            best = r
    return Fit(int(catalog_notes), float(math.exp(best.x[0])), float(best.x[1]), int(len(s)))


NOTATED_NULL = NullModel(fits=(
    Fit(catalog_notes=2_080, lam=0.9405, log_k=-4.237, fitted_on=798),
    Fit(catalog_notes=17_774, lam=0.7003, log_k=-7.261, fitted_on=798),
    Fit(catalog_notes=183_697, lam=0.4516, log_k=-11.454, fitted_on=798),
    Fit(catalog_notes=913_326, lam=0.3402, log_k=-13.885, fitted_on=798),
))
"""The null for align.DEFAULT_PARAMS (notated queries: MIDI, MusicXML, ABC): fitted by `scripts/bench/run-melody
--calibrate-only` on background queries (4- and 8-bar phrases of folk tunes outside the catalog and plainly not
versions of a catalog tune, embedded, transposed, re-timed, ornamented or jittered like real quotations) against
the benchmark's catalog of 10,000 tunes from music21's Essen, O'Neill's, Ryan's and Aird's collections (as
played) and random subsets of 20, 200 and 2,000 of them, with the matcher's QUERY_REDUCTIONS. Refit whenever the
alignment costs or the query's readings change, and when the catalog's style changes (e.g. pop songs instead of
folk tunes)."""

TRANSCRIBED_NULL = NullModel(fits=(
    Fit(catalog_notes=2_080, lam=0.8726, log_k=-5.530, fitted_on=798),
    Fit(catalog_notes=17_774, lam=0.6495, log_k=-8.195, fitted_on=798),
    Fit(catalog_notes=183_697, lam=0.4051, log_k=-12.169, fitted_on=798),
    Fit(catalog_notes=913_326, lam=0.3149, log_k=-14.260, fitted_on=798),
))
"""The null for align.TRANSCRIBED_PARAMS, fitted the same way on the same background queries."""
