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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


@dataclass(frozen=True)
class NullModel:
    """Calibrated defaults: fitted by `scripts/bench/run-melody --calibrate-only` on 799 background queries
    (4- and 8-bar phrases of folk tunes outside the catalog and plainly not versions of a catalog tune,
    embedded, transposed, re-timed, ornamented or jittered like real quotations) against a 10,000-tune
    catalog from music21's Essen, O'Neill's, Ryan's and Aird's collections, with align.DEFAULT_PARAMS and both
    of the matcher's QUERY_REDUCTIONS (refit whenever the alignment costs or the query's readings change). The
    catalog size enters the formula (catalog_notes), so the model carries over to other catalog sizes; refit
    when the catalog's style changes (e.g. pop songs instead of folk tunes)."""

    lam: float = 0.4079
    log_k: float = -12.726
    fitted_on: int = 799
    """Number of background queries behind the fit."""

    def false_match_probability(self, score: float, query_notes: int, catalog_notes: int) -> float:
        log_e = self.log_k + math.log(max(1, query_notes)) + math.log(max(1, catalog_notes)) - self.lam * score
        if log_e > 30:
            return 1.0
        return float(-math.expm1(-math.exp(log_e)))

    def score_for(self, probability: float, query_notes: int, catalog_notes: int) -> float:
        """The alignment score whose false-match probability is `probability`."""
        log_e = math.log(-math.log1p(-probability))
        return (self.log_k + math.log(max(1, query_notes)) + math.log(max(1, catalog_notes)) - log_e) / self.lam


def fit_null(scores: np.ndarray, query_notes: np.ndarray, catalog_notes: int, *, tail: float = 0.5) -> NullModel:
    """Maximum-likelihood Gumbel fit of best background scores with a known search space per query.

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
    return NullModel(lam=float(math.exp(best.x[0])), log_k=float(best.x[1]), fitted_on=int(len(s)))


TRANSCRIBED_NULL = NullModel(lam=0.3714, log_k=-13.270, fitted_on=799)
"""The null for align.TRANSCRIBED_PARAMS, fitted the same way on the same background queries
(`scripts/bench/run-melody --calibrate-only` prints both)."""
