"""Policy bundles: schema, signatures, combination, golden tests, replay; and the gate inside the service."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import structlog.testing
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import policies
from guard.datadir import DataDir
from guard.policy import DEFAULT_BUNDLE
from guard.v1 import policy_pb2, policy_pb2_grpc, screening_pb2
from tests.audio import DEMO_RATE, synth_music, wav_bytes
from tests.conftest import Guard
from tests.test_service import register, screen

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc)
ADMIN = Ed25519PrivateKey.generate()
TRUSTED = {"admin-1": ADMIN.public_key().public_bytes_raw()}


def make_bundle(folder: Path, rules: list[dict], cases: list[dict] | None = None, *, revision: int = 1,
                bundle_id: str = "test-policy", valid_from: dt.datetime = NOW - dt.timedelta(days=1),
                valid_until: dt.datetime = NOW + dt.timedelta(days=30), key=ADMIN, key_id: str = "admin-1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(yaml.safe_dump({"rules": rules}))
    if cases is not None:
        (folder / "tests.yaml").write_text(yaml.safe_dump({"cases": cases}))
    policies.sign(folder, key, key_id, bundle_id=bundle_id, revision=revision, valid_from=valid_from,
                  valid_until=valid_until)
    return folder


def rule(rule_id: str, effect: str, **when) -> dict:
    return {"id": rule_id, "effect": effect, "when": when, "reason": f"because {rule_id}"}


def facts(*scores: float, **fields) -> policies.ScreeningFacts:
    return policies.ScreeningFacts(
        matches=tuple(policies.MatchFacts(f"w{i}", "audio", s) for i, s in enumerate(scores)), **fields)


def test_default_bundle_passes_its_golden_cases_with_full_coverage(tmp_path: Path) -> None:
    folder = tmp_path / "default"
    shutil.copytree(DEFAULT_BUNDLE, folder)
    policies.sign(folder, ADMIN, "admin-1", bundle_id="guard-default", revision=1, valid_from=NOW,
                  valid_until=NOW + dt.timedelta(days=1))
    report = policies.run_tests(policies.Policy(policies.load(folder, TRUSTED)), NOW)
    assert report.ok and report.cases >= len(policies.load(folder, TRUSTED).rules)


@pytest.mark.parametrize(
    "rules_text,message",
    [
        ("rules:\n  - id: a\n    effect: block\n    when:\n      min_scor: 0.9\n    reason: r\n",
         "rules.yaml:5: rules.0.when.min_scor: Extra inputs are not permitted"),
        ("rules:\n  - id: a\n    effect: deny\n    when: {}\n    reason: r\n", "rules.yaml:3: rules.0.effect"),
        ("rules:\n  - id: a\n    effect: block\n    when:\n      min_score: high\n    reason: r\n",
         "rules.yaml:5: rules.0.when.min_score"),
        ("rules:\n  - id: a\n    effect: block\n    when:\n      territory_in: [Germany]\n    reason: r\n",
         "ISO 3166-1"),
        ("rules:\n  - id: a\n    effect: block\n    when: {}\n    reason: r\n    priority: 3\n",
         "rules.yaml:6: rules.0.priority: Extra inputs are not permitted"),
        ("rules: [unclosed\n", "not valid YAML"),
    ],
)
def test_schema_errors_name_the_file_and_line(tmp_path: Path, rules_text: str, message: str) -> None:
    folder = make_bundle(tmp_path / "b", [])
    (folder / "rules.yaml").write_text(rules_text)
    policies.sign(folder, ADMIN, "admin-1", bundle_id="b", revision=1, valid_from=NOW, valid_until=NOW)
    with pytest.raises(policies.BundleError, match=message.replace("[", r"\[").replace(".", r"\.")):
        policies.load(folder, TRUSTED)


def test_unsigned_tampered_and_untrusted_bundles_are_refused(tmp_path: Path) -> None:
    folder = make_bundle(tmp_path / "b", [rule("a", "allow")])
    policies.load(folder, TRUSTED)
    (folder / "rules.yaml").write_text((folder / "rules.yaml").read_text().replace("allow", "block"))
    with pytest.raises(policies.BundleError, match="does not match its SHA-256"):
        policies.load(folder, TRUSTED)
    make_bundle(folder, [rule("a", "allow")])
    manifest = (folder / "manifest.yaml").read_text()
    (folder / "manifest.yaml").write_text(manifest.replace("revision: 1", "revision: 9"))
    with pytest.raises(policies.BundleError, match="signature does not verify"):
        policies.load(folder, TRUSTED)
    (folder / "manifest.sig").unlink()
    with pytest.raises(policies.BundleError, match="unsigned"):
        policies.load(folder, TRUSTED)
    make_bundle(folder, [rule("a", "allow")], key=Ed25519PrivateKey.generate(), key_id="mallory")
    with pytest.raises(policies.BundleError, match="not a trusted policy key"):
        policies.load(folder, TRUSTED)
    make_bundle(folder, [rule("a", "allow")])
    (folder / "extra.yaml").write_text("rules: []\n")
    with pytest.raises(policies.BundleError, match="not listed in the manifest"):
        policies.load(folder, TRUSTED)


def test_block_overrides_review_overrides_allow_and_no_rule_means_review(tmp_path: Path) -> None:
    policy = policies.Policy(policies.load(make_bundle(tmp_path / "b", [
        rule("allow-all", "allow"),
        rule("review-commercial", "review", commercial_use=True),
        rule("block-strong", "block", min_score=0.99),
        rule("allow-with-consent", "allow", consent_present=True),
    ]), TRUSTED))
    assert policy.decide(facts(), decision_id="d", now=NOW).effect == "allow"
    assert policy.decide(facts(commercial_use=True), decision_id="d", now=NOW).effect == "review"
    decided = policy.decide(facts(0.995, commercial_use=True), decision_id="d", now=NOW)
    assert decided.effect == "block" and decided.determining_rules == ("block-strong",)
    assert decided.reasons == ("because block-strong",)
    narrow = policies.Policy(policies.load(make_bundle(tmp_path / "c", [rule("a", "allow", has_match=True)]),
                                           TRUSTED))
    unmatched = narrow.decide(facts(), decision_id="d", now=NOW)
    assert unmatched.effect == "review" and unmatched.determining_rules == ()


def test_match_conditions_must_hold_for_one_and_the_same_match(tmp_path: Path) -> None:
    policy = policies.Policy(policies.load(make_bundle(tmp_path / "b", [
        rule("melody-strong", "block", match_kind=["melody"], min_score=0.9)]), TRUSTED))
    mixed = policies.ScreeningFacts(matches=(policies.MatchFacts("a", "melody", 0.5),
                                             policies.MatchFacts("b", "audio", 0.99)))
    assert policy.decide(mixed, decision_id="d", now=NOW).effect == "review"


def test_an_evaluation_error_fails_closed_to_review(tmp_path: Path) -> None:
    policy = policies.Policy(policies.load(make_bundle(tmp_path / "b", [
        rule("allow-all", "allow"), rule("block-strong", "block", min_score=0.9)]), TRUSTED))
    broken = policies.ScreeningFacts(matches=(policies.MatchFacts("a", "audio", None),))  # type: ignore[arg-type]
    decided = policy.decide(broken, decision_id="d", now=NOW)
    assert decided.effect == "review" and any("block-strong" in e for e in decided.errors)
    assert decided.determining_rules == ()


def test_golden_cases_and_coverage_report(tmp_path: Path) -> None:
    folder = make_bundle(tmp_path / "b", [rule("block-strong", "block", min_score=0.99), rule("never", "block",
                                                                                             territory_in=["AQ"])],
                         cases=[{"name": "strong", "facts": {"matches": [{"score": 1.0}]}, "expect": "block"},
                                {"name": "wrong", "facts": {}, "expect": "allow"}])
    report = policies.run_tests(policies.Policy(policies.load(folder, TRUSTED)), NOW)
    assert report.unexercised == ("never",)
    assert len(report.failures) == 1 and "wrong: expected allow, got review" in report.failures[0]


conditions = st.fixed_dictionaries({}, optional={
    "min_score": st.floats(0, 1), "max_score": st.floats(0, 1), "commercial_use": st.booleans(),
    "consent_present": st.booleans(), "has_match": st.booleans(),
    "match_kind": st.lists(st.sampled_from(["audio", "melody"]), min_size=1, max_size=2),
    "consent_scope": st.lists(st.sampled_from(["personal", "commercial"]), min_size=1),
})
rules_strategy = st.lists(st.tuples(st.sampled_from(["allow", "review", "block"]), conditions), max_size=6)
facts_strategy = st.builds(
    policies.ScreeningFacts,
    matches=st.lists(st.builds(policies.MatchFacts, work_id=st.just("w"),
                               kind=st.sampled_from(["audio", "melody"]), score=st.floats(0, 1)),
                     max_size=3).map(tuple),
    consent_present=st.booleans(), consent_scope=st.sampled_from(["", "personal", "commercial"]),
    commercial_use=st.booleans(),
)


def _policy(rules: list[tuple[str, dict]], folder: Path) -> policies.Policy:
    specs = [rule(f"r{i}", effect, **when) for i, (effect, when) in enumerate(rules)]
    return policies.Policy(policies.load(make_bundle(folder, specs), TRUSTED))


@settings(max_examples=60, deadline=None)
@given(rules=rules_strategy, extra=conditions, cases=st.lists(facts_strategy, min_size=1, max_size=10))
def test_adding_a_block_rule_never_turns_a_block_into_allow(tmp_path_factory, rules, extra, cases) -> None:
    folder = tmp_path_factory.mktemp("p")
    before = _policy(rules, folder / "before")
    after = _policy(rules + [("block", extra)], folder / "after")
    for f in cases:
        old = before.decide(f, decision_id="d", now=NOW).effect
        new = after.decide(f, decision_id="d", now=NOW).effect
        assert policies.decide.EFFECT_ORDER[new] >= policies.decide.EFFECT_ORDER[old]
        if old == "block":
            assert new == "block"


@settings(max_examples=60, deadline=None)
@given(rules=rules_strategy, cases=st.lists(facts_strategy, min_size=1, max_size=10))
def test_replay_under_the_same_bundle_reproduces_every_decision(tmp_path_factory, rules, cases) -> None:
    policy = _policy(rules, tmp_path_factory.mktemp("p") / "b")
    decisions = [policy.decide(f, decision_id=f"d{i}", now=NOW) for i, f in enumerate(cases)]
    stored = [policies.StoredDecision(d.decision_id, policies.ScreeningFacts.from_dict(
        json.loads(json.dumps(f.to_dict()))), d.input_sha256, d.effect, d.determining_rules)
        for d, f in zip(decisions, cases)]
    assert list(policies.replay(policy, stored, NOW + dt.timedelta(days=1))) == []
    again = [policy.decide(s.facts, decision_id=s.decision_id, now=NOW) for s in stored]
    assert [d.outcome() for d in again] == [d.outcome() for d in decisions]


def _activate(guard: Guard, folder: Path) -> policy_pb2.BundleInfo:
    conn = guard.connect("admin")
    try:
        return policy_pb2_grpc.PolicyServiceStub(conn.channel).ActivateBundle(
            policy_pb2.ActivateBundleRequest(files={p.name: p.read_bytes() for p in folder.iterdir()}),
            metadata=conn.metadata)
    finally:
        conn.close()


def _signed_by_guard(guard: Guard, folder: Path, rules: list[dict], revision: int, bundle_id: str = "guard-default",
                     valid_until: dt.datetime | None = None) -> Path:
    key_id, key = DataDir(guard.settings.data_dir).policy_keys.admin()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return make_bundle(folder, rules, revision=revision, bundle_id=bundle_id, key=key, key_id=key_id,
                       valid_from=start, valid_until=valid_until or start + dt.timedelta(days=3650))


def test_the_gate_activates_atomically_and_refuses_bad_bundles(guard: Guard, tmp_path: Path) -> None:
    song = synth_music(150, 40.0)
    register(guard, "work-1", wav_bytes(song, DEMO_RATE))
    excerpt = wav_bytes(song[5 * DEMO_RATE: 20 * DEMO_RATE], DEMO_RATE)
    first = screen(guard, excerpt)
    assert first.verdict == screening_pb2.VERDICT_BLOCK and first.decision.bundle_id == "guard-default"

    lenient = _signed_by_guard(guard, tmp_path / "r2", [rule("allow-everything", "allow")], revision=2)
    info = _activate(guard, lenient)
    assert info.revision == 2 and info.rules == 1
    assert screen(guard, excerpt, key="after").verdict == screening_pb2.VERDICT_ALLOW

    refusals = [
        (_signed_by_guard(guard, tmp_path / "old", [rule("x", "block")], revision=2),
         grpc.StatusCode.FAILED_PRECONDITION, "not newer"),
        (_signed_by_guard(guard, tmp_path / "exp", [rule("x", "block")], revision=3,
                          valid_until=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)),
         grpc.StatusCode.FAILED_PRECONDITION, "not valid now"),
        (make_bundle(tmp_path / "foreign", [rule("x", "block")], revision=4, bundle_id="guard-default"),
         grpc.StatusCode.INVALID_ARGUMENT, "not a trusted policy key"),
    ]
    with structlog.testing.capture_logs() as logs:
        for folder, code, fragment in refusals:
            with pytest.raises(grpc.RpcError) as info:
                _activate(guard, folder)
            assert info.value.code() == code and fragment in info.value.details()
    assert [e["event"] for e in logs].count("policy_refused") == 3
    assert screen(guard, excerpt, key="still").verdict == screening_pb2.VERDICT_ALLOW

    conn = guard.connect("pipeline")
    with pytest.raises(grpc.RpcError) as denied:
        policy_pb2_grpc.PolicyServiceStub(conn.channel).ActivateBundle(
            policy_pb2.ActivateBundleRequest(files={}), metadata=conn.metadata)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    conn.close()


def _cli(guard: Guard, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guard.cli", *args, "--data-dir", str(guard.settings.data_dir)],
                          capture_output=True, text=True, timeout=120)


def test_policy_command_line(guard: Guard, tmp_path: Path) -> None:
    song = synth_music(160, 40.0)
    register(guard, "work-1", wav_bytes(song, DEMO_RATE))
    blocked = screen(guard, wav_bytes(song[: 12 * DEMO_RATE], DEMO_RATE))
    allowed = screen(guard, wav_bytes(synth_music(161, 12.0), DEMO_RATE))
    assert blocked.verdict == screening_pb2.VERDICT_BLOCK and allowed.verdict == screening_pb2.VERDICT_ALLOW

    explained = _cli(guard, "policy", "explain", blocked.decision.decision_id, "--server", guard.address)
    assert explained.returncode == 0, explained.stderr
    assert "BLOCK under guard-default revision 1" in explained.stdout
    assert "HELD   block-audio-reuse (block)" in explained.stdout
    assert "[x] match_kind=[audio] and min_score=0.9999" in explained.stdout

    draft = tmp_path / "draft"
    shutil.copytree(DEFAULT_BUNDLE, draft)
    signed = _cli(guard, "policy", "sign", str(draft), "--bundle-id", "guard-default", "--revision", "2",
                  "--valid-from", "2026-01-01T00:00:00Z")
    assert signed.returncode == 0, signed.stderr
    tested = _cli(guard, "policy", "test", str(draft))
    assert tested.returncode == 0 and "7 of 7 rules exercised" in tested.stdout

    same = _cli(guard, "policy", "replay", "--bundle", str(draft))
    assert same.returncode == 0 and "replayed 2 decisions" in same.stdout and "0 would change" in same.stdout

    (draft / "rules.yaml").write_text((draft / "rules.yaml").read_text().replace(
        "min_score: 0.9999\n", "min_score: 0.9999\n      territory_in: [AQ]\n", 1))
    _cli(guard, "policy", "sign", str(draft), "--bundle-id", "guard-default", "--revision", "3",
         "--valid-from", "2026-01-01T00:00:00Z")
    assert "NOT EXERCISED block-audio-reuse" in _cli(guard, "policy", "test", str(draft)).stdout
    weaker = _cli(guard, "policy", "replay", "--bundle", str(draft), "--since", "2026-11-24")
    assert weaker.returncode == 0
    assert "1 would change, 0 past blocks would become allow" in weaker.stdout

    (draft / "rules.yaml").write_text(yaml.safe_dump({"rules": [rule("allow-all", "allow")]}))
    _cli(guard, "policy", "sign", str(draft), "--bundle-id", "guard-default", "--revision", "4",
         "--valid-from", "2026-01-01T00:00:00Z")
    dangerous = _cli(guard, "policy", "replay", "--bundle", str(draft), "--json")
    assert dangerous.returncode == 1
    report = json.loads(dangerous.stdout)
    assert [c["decision_id"] for c in report["changes"] if c["unblocks"]] == [blocked.decision.decision_id]
    future = _cli(guard, "policy", "replay", "--bundle", str(draft), "--since", "2030-01-01")
    assert future.returncode == 0 and "replayed 0 decisions" in future.stdout

    activated = _cli(guard, "policy", "activate", str(draft), "--server", guard.address)
    assert activated.returncode == 0 and "guard-default revision 4" in activated.stdout
