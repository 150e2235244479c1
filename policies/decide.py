"""Decisions: evaluate every rule of a bundle on a screening's facts, combine, and say why."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import rfc8785

from policies.bundle import Bundle
from policies.rules import EFFECT_ORDER, CompiledRule, RuleResult, ScreeningFacts

DEFAULT_EFFECT = "review"
"""No rule matched: a person looks. The gate never defaults to allow."""


@dataclass(frozen=True)
class Decision:
    decision_id: str
    bundle_id: str
    revision: int
    bundle_digest: str
    input_sha256: str
    effect: str
    determining_rules: tuple[str, ...]
    reasons: tuple[str, ...]
    errors: tuple[str, ...]
    evaluated_at: dt.datetime

    def outcome(self) -> tuple:
        """What replay compares: everything but the id and the time of evaluation."""
        return (self.bundle_digest, self.input_sha256, self.effect, self.determining_rules, self.errors)


def input_digest(facts: ScreeningFacts) -> str:
    return hashlib.sha256(rfc8785.dumps(facts.to_dict())).hexdigest()


class Policy:
    """A loaded bundle, compiled once."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._rules = tuple(CompiledRule.of(r) for r in bundle.rules)
        self._tiers = tuple(
            tuple(c for c in self._rules if c.rule.effect == effect)
            for effect in sorted(EFFECT_ORDER, key=EFFECT_ORDER.__getitem__, reverse=True)
        )

    def decide(self, facts: ScreeningFacts, *, decision_id: str, now: dt.datetime) -> Decision:
        held: list[CompiledRule] = []
        errors: list[str] = []
        try:
            digest = input_digest(facts)
        except Exception as exc:  # malformed facts are an evaluation error too: fail closed
            digest, errors = "", [f"facts: {type(exc).__name__}: {exc}"]
        for tier in self._tiers:  # block rules first: once a tier holds, weaker ones cannot change the effect
            for compiled in tier:
                try:
                    if compiled.holds(facts):
                        held.append(compiled)
                except Exception as exc:  # fail closed: any evaluation error turns into review
                    errors.append(f"{compiled.rule.id}: {type(exc).__name__}: {exc}")
            if held:
                break
        if held:
            effect = max((c.rule.effect for c in held), key=EFFECT_ORDER.__getitem__)
            determining = [c.rule for c in held if c.rule.effect == effect]
        else:
            effect, determining = DEFAULT_EFFECT, []
        if errors and EFFECT_ORDER[effect] < EFFECT_ORDER["review"]:
            effect, determining = "review", []
        reasons = [r.reason for r in determining] or (
            ["evaluation errors: a person must review"] if errors else ["no rule matched: a person must review"])
        return Decision(
            decision_id=decision_id,
            bundle_id=self.bundle.bundle_id,
            revision=self.bundle.revision,
            bundle_digest=self.bundle.digest,
            input_sha256=digest,
            effect=effect,
            determining_rules=tuple(r.id for r in determining),
            reasons=tuple(reasons),
            errors=tuple(errors),
            evaluated_at=now,
        )

    def explain(self, facts: ScreeningFacts) -> list[RuleResult]:
        return [c.explain(facts) for c in self._rules]


@dataclass(frozen=True)
class TestReport:
    failures: tuple[str, ...]
    unexercised: tuple[str, ...]
    """Rules no golden case made hold."""
    cases: int

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unexercised


def run_tests(policy: Policy, now: dt.datetime) -> TestReport:
    """Golden cases kept in the bundle, and coverage: every rule must hold in at least one case."""
    failures, exercised = [], set()
    for case in policy.bundle.cases:
        facts = case.facts.facts()
        decision = policy.decide(facts, decision_id="test", now=now)
        exercised.update(r.rule_id for r in policy.explain(facts) if r.held)
        if decision.effect != case.expect:
            failures.append(f"{case.name}: expected {case.expect}, got {decision.effect} "
                            f"(rules: {', '.join(decision.determining_rules) or 'none'})")
    unexercised = tuple(r.id for r in policy.bundle.rules if r.id not in exercised)
    return TestReport(tuple(failures), unexercised, len(policy.bundle.cases))


@dataclass(frozen=True)
class StoredDecision:
    decision_id: str
    facts: ScreeningFacts
    input_sha256: str
    effect: str
    determining_rules: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    decision_id: str
    before: str
    after: str
    rules_before: tuple[str, ...]
    rules_after: tuple[str, ...]

    @property
    def unblocks(self) -> bool:
        """A past block that would now be allowed: the change a policy author must never make silently."""
        return self.before == "block" and self.after == "allow"


def replay(policy: Policy, stored: Iterable[StoredDecision], now: dt.datetime) -> Iterator[Change]:
    """Re-evaluate stored facts under `policy`; yield every decision whose outcome would change."""
    for past in stored:
        decision = policy.decide(past.facts, decision_id=past.decision_id, now=now)
        if decision.input_sha256 != past.input_sha256:
            raise ValueError(f"{past.decision_id}: stored facts do not match their digest")
        if (decision.effect, decision.determining_rules) != (past.effect, past.determining_rules):
            yield Change(past.decision_id, past.effect, decision.effect, past.determining_rules,
                         decision.determining_rules)
