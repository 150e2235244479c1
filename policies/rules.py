"""Rules and the facts they are evaluated on.

A rule holds when every condition in its `when` holds. Conditions about a
match (kind, score, the work's rights-holder flags) must all hold for one
and the same match. Combination is fixed and fails closed: block overrides
review overrides allow, no matching rule means review, and an evaluation
error means review, never allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Effect = Literal["allow", "review", "block"]
EFFECT_ORDER: dict[str, int] = {"allow": 0, "review": 1, "block": 2}
MATCH_KINDS = ("audio", "melody")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TERRITORY = re.compile(r"^[A-Z]{2}$")


class Conditions(BaseModel):
    """Every condition a rule may name; a misspelled one is a load error, not a silently ignored key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    has_match: bool | None = None
    match_kind: tuple[Literal["audio", "melody"], ...] | None = None
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    max_score: float | None = Field(default=None, ge=0.0, le=1.0)
    rights_holder_flags: tuple[str, ...] | None = None
    consent_present: bool | None = None
    consent_scope: tuple[str, ...] | None = None
    commercial_use: bool | None = None
    model_id_in: tuple[str, ...] | None = None
    model_id_not_in: tuple[str, ...] | None = None
    model_version_in: tuple[str, ...] | None = None
    min_duration_seconds: float | None = Field(default=None, ge=0.0)
    max_duration_seconds: float | None = Field(default=None, ge=0.0)
    territory_in: tuple[str, ...] | None = None
    territory_not_in: tuple[str, ...] | None = None

    @field_validator("territory_in", "territory_not_in")
    @classmethod
    def _territories(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for code in value or ():
            if not _TERRITORY.match(code):
                raise ValueError(f"territory '{code}' is not an ISO 3166-1 alpha-2 code such as 'DE'")
        return value

    def named(self) -> dict[str, object]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    effect: Effect
    when: Conditions
    reason: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError("rule id must be 1-64 lowercase letters, digits, '.', '_' or '-'")
        return value


@dataclass(frozen=True)
class MatchFacts:
    work_id: str
    kind: str
    score: float
    """Quantised to basis points, the precision facts are stored with, so a replay sees what the decision saw."""
    rights_holder_flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.score, float | int):
            object.__setattr__(self, "score", round(self.score * 10_000) / 10_000)


@dataclass(frozen=True)
class ScreeningFacts:
    """What a policy may look at; nothing else about a screening reaches the rules."""

    matches: tuple[MatchFacts, ...] = ()
    consent_present: bool = False
    consent_scope: str = ""
    commercial_use: bool = False
    model_id: str = ""
    model_version: str = ""
    duration_seconds: float = 0.0
    territory: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.duration_seconds, float | int):
            object.__setattr__(self, "duration_seconds", round(self.duration_seconds * 1000) / 1000)

    def to_dict(self) -> dict:
        return {
            "matches": [
                {"work_id": m.work_id, "kind": m.kind, "score_bp": int(round(m.score * 10_000)),
                 "rights_holder_flags": sorted(m.rights_holder_flags)}
                for m in self.matches
            ],
            "consent_present": self.consent_present,
            "consent_scope": self.consent_scope,
            "commercial_use": self.commercial_use,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "duration_ms": int(round(self.duration_seconds * 1000)),
            "territory": self.territory,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ScreeningFacts":
        return cls(
            matches=tuple(MatchFacts(m["work_id"], m["kind"], m["score_bp"] / 10_000,
                                     tuple(m["rights_holder_flags"])) for m in data["matches"]),
            consent_present=bool(data["consent_present"]),
            consent_scope=data["consent_scope"],
            commercial_use=bool(data["commercial_use"]),
            model_id=data["model_id"],
            model_version=data["model_version"],
            duration_seconds=data["duration_ms"] / 1000,
            territory=data["territory"],
        )


@dataclass(frozen=True)
class ConditionResult:
    condition: str
    held: bool
    detail: str


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    effect: str
    held: bool
    conditions: tuple[ConditionResult, ...] = field(default_factory=tuple)


_MATCH_PREDICATES: dict[str, Callable[[Any, MatchFacts], bool]] = {
    "match_kind": lambda v, m: m.kind in v,
    "min_score": lambda v, m: m.score >= v,
    "max_score": lambda v, m: m.score <= v,
    "rights_holder_flags": lambda v, m: not set(v).isdisjoint(m.rights_holder_flags),
}

_PREDICATES: dict[str, tuple[Callable[[Any, ScreeningFacts], bool], Callable[[ScreeningFacts], str]]] = {
    "has_match": (lambda v, f: bool(f.matches) == v, lambda f: f"{len(f.matches)} matches"),
    "consent_present": (lambda v, f: f.consent_present == v, lambda f: f"consent present: {f.consent_present}"),
    "consent_scope": (lambda v, f: f.consent_scope in v, lambda f: f"consent scope '{f.consent_scope}'"),
    "commercial_use": (lambda v, f: f.commercial_use == v, lambda f: f"commercial use: {f.commercial_use}"),
    "model_id_in": (lambda v, f: f.model_id in v, lambda f: f"model '{f.model_id}'"),
    "model_id_not_in": (lambda v, f: f.model_id not in v, lambda f: f"model '{f.model_id}'"),
    "model_version_in": (lambda v, f: f.model_version in v, lambda f: f"model version '{f.model_version}'"),
    "min_duration_seconds": (lambda v, f: f.duration_seconds >= v, lambda f: f"{f.duration_seconds:.1f} s"),
    "max_duration_seconds": (lambda v, f: f.duration_seconds <= v, lambda f: f"{f.duration_seconds:.1f} s"),
    "territory_in": (lambda v, f: f.territory in v, lambda f: f"territory '{f.territory}'"),
    "territory_not_in": (lambda v, f: f.territory not in v, lambda f: f"territory '{f.territory}'"),
}


@dataclass(frozen=True)
class CompiledRule:
    """A rule split once into screening-level and match-level predicates, for the hot path."""

    rule: Rule
    screening: tuple[tuple[str, Any], ...]
    per_match: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, rule: Rule) -> "CompiledRule":
        named = rule.when.named()
        return cls(
            rule,
            tuple((k, v) for k, v in named.items() if k in _PREDICATES),
            tuple((k, v) for k, v in named.items() if k in _MATCH_PREDICATES),
        )

    def holds(self, facts: ScreeningFacts) -> bool:
        for name, value in self.screening:
            if not _PREDICATES[name][0](value, facts):
                return False
        if not self.per_match:
            return True
        return any(all(_MATCH_PREDICATES[n](v, m) for n, v in self.per_match) for m in facts.matches)

    def explain(self, facts: ScreeningFacts) -> RuleResult:
        results = [
            ConditionResult(f"{name}={_show(value)}", _PREDICATES[name][0](value, facts), _PREDICATES[name][1](facts))
            for name, value in self.screening
        ]
        if self.per_match:
            results.append(self._explain_matches(facts))
        return RuleResult(self.rule.id, self.rule.effect, all(r.held for r in results), tuple(results))

    def _explain_matches(self, facts: ScreeningFacts) -> ConditionResult:
        label = " and ".join(f"{k}={_show(v)}" for k, v in self.per_match)
        for m in facts.matches:
            if all(_MATCH_PREDICATES[n](v, m) for n, v in self.per_match):
                return ConditionResult(label, True, f"match on {m.work_id} ({m.kind}, score {m.score:.4f})")
        return ConditionResult(label, False, f"none of {len(facts.matches)} matches satisfies all of it")


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
