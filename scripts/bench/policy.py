"""Policy benchmark: decision latency with a 200-rule bundle, replay throughput over 100,000 stored screenings.

Run: scripts/bench/run-policy [--rules 200 --stored 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from _report import machine, write_section  # noqa: E402

import policies  # noqa: E402
from guard.policy import stored_decisions  # noqa: E402
from guard.storage import create_engine_for, migrate  # noqa: E402
from guard.storage.models import PolicyDecisionRow  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc)
MODELS = [f"model-{i}" for i in range(40)]


def rules(count: int, rng: np.random.Generator) -> list[dict]:
    """A mix like a real bundle: score thresholds per kind, model lists, consent, territories, flags."""
    out = []
    for i in range(count):
        kind = i % 5
        when: dict = {}
        if kind == 0:
            when = {"match_kind": ["audio"], "min_score": float(rng.uniform(0.9, 1.0))}
        elif kind == 1:
            when = {"match_kind": ["melody"], "min_score": float(rng.uniform(0.5, 1.0)),
                    "rights_holder_flags": [f"flag-{rng.integers(10)}"]}
        elif kind == 2:
            when = {"model_id_not_in": [str(m) for m in rng.choice(MODELS, 10, replace=False)], "commercial_use": True}
        elif kind == 3:
            when = {"consent_present": bool(rng.integers(2)), "territory_in": ["DE", "FR", "US"][: 1 + i % 3]}
        else:
            when = {"has_match": False, "consent_scope": ["commercial"], "max_duration_seconds": 600.0}
        out.append({"id": f"rule-{i:03d}", "effect": ["allow", "review", "block"][i % 3], "when": when,
                    "reason": f"reason {i}"})
    return out


def random_facts(rng: np.random.Generator) -> policies.ScreeningFacts:
    matches = tuple(policies.MatchFacts(f"w{j}", str(rng.choice(["audio", "melody"])), float(rng.uniform(0.4, 1.0)),
                                        (f"flag-{rng.integers(10)}",)) for j in range(int(rng.integers(0, 3))))
    return policies.ScreeningFacts(
        matches=matches, consent_present=bool(rng.integers(2)),
        consent_scope=str(rng.choice(["", "personal", "commercial"])), commercial_use=bool(rng.integers(2)),
        model_id=str(rng.choice(MODELS)), model_version="1.0", duration_seconds=float(rng.uniform(10, 400)),
        territory=str(rng.choice(["DE", "FR", "US", "JP"])))


def main() -> None:
    where = machine()
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--stored", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        (folder / "rules.yaml").write_text(yaml.safe_dump({"rules": rules(args.rules, rng)}))
        policies.sign(folder, key, "bench", bundle_id="bench", revision=1, valid_from=NOW,
                      valid_until=NOW + dt.timedelta(days=1))
        policy = policies.Policy(policies.load(folder, {"bench": key.public_key().public_bytes_raw()}))
        samples = [random_facts(rng) for _ in range(20_000)]
        for f in samples[:500]:
            policy.decide(f, decision_id="warm", now=NOW)
        latencies = []
        effects: dict[str, int] = {}
        for i, f in enumerate(samples):
            t = time.perf_counter()
            d = policy.decide(f, decision_id=f"d{i}", now=NOW)
            latencies.append(time.perf_counter() - t)
            effects[d.effect] = effects.get(d.effect, 0) + 1
        p50, p99 = (1000 * float(np.percentile(latencies, q)) for q in (50, 99))
        print(f"decision latency, {args.rules} rules: p50 {p50:.3f} ms, p99 {p99:.3f} ms; effects {effects}")

        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'replay.db'}")
        migrate(engine)
        table = PolicyDecisionRow.__table__  # type: ignore[attr-defined]
        with engine.begin() as conn:
            batch = []
            for i in range(args.stored):
                f = samples[i % len(samples)]
                d = policy.decide(f, decision_id=f"dec_{i:08d}", now=NOW)
                batch.append({"decision_id": d.decision_id, "screening_id": f"scr_{i:08d}", "bundle_id": "bench",
                              "revision": 1, "bundle_digest": d.bundle_digest, "facts": f.to_dict(),
                              "input_sha256": d.input_sha256, "effect": d.effect,
                              "determining_rules": list(d.determining_rules), "reasons": list(d.reasons),
                              "errors": [], "evaluated_at": NOW + dt.timedelta(seconds=i)})
                if len(batch) == 5000:
                    conn.execute(table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
        start = time.perf_counter()
        changes = list(policies.replay(policy, stored_decisions(engine), NOW))
        elapsed = time.perf_counter() - start
        rate = args.stored / elapsed
        print(f"replay: {args.stored} stored decisions in {elapsed:.2f} s = {rate:.0f}/s ({len(changes)} changed)")
        engine.dispose()
    write_section("policy", f"""## Policy decisions and replay

Command: `scripts/bench/run-policy --rules {args.rules} --stored {args.stored}` ({where}; one core, `taskset -c 0`)

A synthetic bundle of {args.rules} rules mixing score thresholds per match kind, rights-holder flags, model lists,
consent, territories and durations; 20,000 random screenings' facts.

| figure | measured | target |
|---|---|---|
| decision latency, {args.rules} rules (tiered evaluation + input digest) | p50 {p50:.3f} ms, **p99 {p99:.3f} ms** | <= 1 ms p99 |
| replay over {args.stored:,} stored screenings (SQLite read, facts digest check, re-decide, compare) | **{rate:,.0f} decisions/s** ({elapsed:.1f} s; {len(changes)} changed under the same bundle) | >= 10,000/s |
""")


if __name__ == "__main__":
    main()
