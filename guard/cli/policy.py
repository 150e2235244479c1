"""`guard policy`: sign, test, activate, explain and replay policy bundles."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from google.protobuf.json_format import MessageToJson

from guard.cli._shared import rpc
from guard.config import Settings


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             client: argparse.ArgumentParser) -> None:
    policy = commands.add_parser("policy", help="policy bundles: sign, test, activate, explain, replay")
    pol = policy.add_subparsers(title="policy commands")
    signing = pol.add_parser("sign", parents=[common], help="write the manifest and sign a bundle directory "
                             "with the data directory's policy admin key")
    signing.add_argument("bundle", type=Path)
    signing.add_argument("--bundle-id", required=True)
    signing.add_argument("--revision", type=int, required=True)
    signing.add_argument("--valid-from", help="RFC 3339 (default: now)")
    signing.add_argument("--valid-days", type=int, default=365)
    signing.set_defaults(run=_policy_sign)
    testing = pol.add_parser("test", parents=[common], help="run a bundle's golden cases and its rule coverage")
    testing.add_argument("bundle", type=Path)
    testing.set_defaults(run=_policy_test)
    activate = pol.add_parser("activate", parents=[client], help="make a signed bundle the active policy (admin)")
    activate.add_argument("bundle", type=Path)
    activate.set_defaults(run=_policy_activate)
    explain = pol.add_parser("explain", parents=[client], help="which conditions held or failed in a decision")
    explain.add_argument("decision_id")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(run=_policy_explain)
    replaying = pol.add_parser("replay", parents=[common], help="re-evaluate stored screenings under a bundle and "
                               "list every decision that would change (exit 1 if a past block becomes allow)")
    replaying.add_argument("--bundle", type=Path, required=True)
    replaying.add_argument("--since", help="only decisions evaluated from this RFC 3339 time or date")
    replaying.add_argument("--database-url", help="default: the data directory's SQLite (env GUARD_DATABASE_URL)")
    replaying.add_argument("--json", action="store_true")
    replaying.set_defaults(run=_policy_replay)


def _policy_sign(args: argparse.Namespace) -> int:
    import datetime as dt

    import policies
    from guard.datadir import DataDir
    from guard.provenance.keyring import parse_rfc3339

    key_id, key = DataDir(args.data_dir).policy_keys.admin()
    start = parse_rfc3339(args.valid_from) if args.valid_from else dt.datetime.now(dt.timezone.utc)
    policies.sign(args.bundle, key, key_id, bundle_id=args.bundle_id, revision=args.revision,
                  valid_from=start, valid_until=start + dt.timedelta(days=args.valid_days))
    print(f"signed {args.bundle} as {args.bundle_id} revision {args.revision} with {key_id}")
    return 0


def _load_bundle(args: argparse.Namespace, folder: Path):
    import policies
    from guard.datadir import DataDir

    try:
        return policies.load(folder, DataDir(args.data_dir).policy_keys.trusted())
    except policies.BundleError as exc:
        print(f"guard: {folder}: {exc}", file=sys.stderr)
        return None


def _policy_test(args: argparse.Namespace) -> int:
    import datetime as dt

    import policies

    bundle = _load_bundle(args, args.bundle)
    if bundle is None:
        return 2
    report = policies.run_tests(policies.Policy(bundle), dt.datetime.now(dt.timezone.utc))
    exercised = len(bundle.rules) - len(report.unexercised)
    print(f"{bundle.bundle_id} revision {bundle.revision}: {report.cases} cases, "
          f"{len(report.failures)} failed; {exercised} of {len(bundle.rules)} rules exercised")
    for failure in report.failures:
        print(f"  FAILED {failure}")
    for rule in report.unexercised:
        print(f"  NOT EXERCISED {rule}: no case makes this rule hold")
    return 0 if report.ok else 1


def _policy_activate(args: argparse.Namespace) -> int:
    from guard.v1 import policy_pb2, policy_pb2_grpc

    try:
        files = {p.name: p.read_bytes() for p in args.bundle.iterdir() if p.is_file()}
    except OSError as exc:
        print(f"guard: cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return 2
    info = rpc(args, "admin", policy_pb2_grpc.PolicyServiceStub, "ActivateBundle",
               policy_pb2.ActivateBundleRequest(files=files))
    if info is None:
        return 1
    print(f"active: {info.bundle_id} revision {info.revision} ({info.rules} rules, digest {info.digest[:16]})")
    return 0


def _policy_explain(args: argparse.Namespace) -> int:
    from guard.v1 import policy_pb2, policy_pb2_grpc

    explained = rpc(args, "legal", policy_pb2_grpc.PolicyServiceStub, "GetDecision",
                    policy_pb2.GetDecisionRequest(decision_id=args.decision_id))
    if explained is None:
        return 2
    if args.json:
        print(MessageToJson(explained, preserving_proto_field_name=True))
        return 0
    d = explained.decision
    print(f"decision {d.decision_id} for screening {explained.screening_id}: {d.effect.upper()} "
          f"under {d.bundle_id} revision {d.revision}; determining rules: {', '.join(d.determining_rules) or 'none'}")
    for reason in d.reasons:
        print(f"  because: {reason}")
    for rule in explained.rules:
        print(f"  {'HELD  ' if rule.held else 'failed'} {rule.rule_id} ({rule.effect})")
        for c in rule.conditions:
            print(f"      [{'x' if c.held else ' '}] {c.condition}: {c.detail}")
    return 0


def _policy_replay(args: argparse.Namespace) -> int:
    import datetime as dt

    import policies
    from guard.policy import stored_decisions
    from guard.provenance.keyring import parse_rfc3339
    from guard.storage import create_engine_for

    bundle = _load_bundle(args, args.bundle)
    if bundle is None:
        return 2
    url = args.database_url or os.environ.get("GUARD_DATABASE_URL") or \
        Settings(data_dir=args.data_dir).effective_database_url
    since = None
    if args.since:
        since = parse_rfc3339(args.since if "T" in args.since else args.since + "T00:00:00Z")
    engine = create_engine_for(url)

    counted = []

    def counting():
        for item in stored_decisions(engine, since):
            counted.append(1)
            yield item

    changes = list(policies.replay(policies.Policy(bundle), counting(), dt.datetime.now(dt.timezone.utc)))
    engine.dispose()
    unblocked = [c for c in changes if c.unblocks]
    if args.json:
        print(json.dumps({"replayed": len(counted), "changes": [c.__dict__ | {"unblocks": c.unblocks}
                                                                 for c in changes]}, indent=2, default=list))
    else:
        print(f"replayed {len(counted)} decisions under {bundle.bundle_id} revision {bundle.revision}: "
              f"{len(changes)} would change, {len(unblocked)} past blocks would become allow")
        for c in changes:
            marker = "  !! " if c.unblocks else "     "
            print(f"{marker}{c.decision_id}: {c.before} -> {c.after} "
                  f"({', '.join(c.rules_before) or 'none'} -> {', '.join(c.rules_after) or 'none'})")
    return 1 if unblocked else 0
