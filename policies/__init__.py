"""Policy bundles: declarative, versioned rules that turn screening facts into allow / review / block.

Block overrides review overrides allow; no matching rule, or any evaluation
error, means review. Importable without gRPC or storage; `guard` composes it.
"""

from policies.bundle import Bundle, BundleError, load, parse, sign
from policies.decide import Change, Decision, Policy, StoredDecision, TestReport, input_digest, replay, run_tests
from policies.rules import MatchFacts, Rule, ScreeningFacts

__all__ = [
    "Bundle",
    "BundleError",
    "Change",
    "Decision",
    "MatchFacts",
    "Policy",
    "Rule",
    "ScreeningFacts",
    "StoredDecision",
    "TestReport",
    "input_digest",
    "load",
    "parse",
    "replay",
    "run_tests",
    "sign",
]
