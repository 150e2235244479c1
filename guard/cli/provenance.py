"""`guard provenance` (fetch records, bundles, checkpoints), `guard audit` (verify offline), `guard keys`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from guard.cli._shared import rpc


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             client: argparse.ArgumentParser) -> None:
    provenance = commands.add_parser("provenance", help="fetch records, bundles and checkpoints from a guard")
    prov = provenance.add_subparsers(title="provenance commands")
    bundle = prov.add_parser("bundle", parents=[client], help="export a record's self-contained bundle")
    bundle.add_argument("record_id")
    bundle.add_argument("--out", type=Path, help="file to write (default: RECORD_ID.guard-bundle.json)")
    bundle.set_defaults(run=_provenance_bundle)
    update = prov.add_parser("checkpoint", parents=[client],
                             help="fetch the latest checkpoint with a consistency proof, for `guard audit checkpoint`")
    update.add_argument("--old-size", type=int, default=0, help="size of the checkpoint the auditor holds")
    update.add_argument("--out", type=Path, default=Path("checkpoint-update.json"))
    update.set_defaults(run=_provenance_checkpoint)
    keyring = prov.add_parser("keyring", parents=[client], help="fetch the public keyring")
    keyring.add_argument("--out", type=Path, default=Path("keyring.json"))
    keyring.set_defaults(run=_provenance_keyring)

    audit = commands.add_parser("audit", help="verify provenance offline (no server, no database)")
    aud = audit.add_subparsers(title="audit commands")
    auditing = argparse.ArgumentParser(add_help=False)
    auditing.add_argument("--keyring", type=Path, required=True,
                          help="the public keyring, obtained from the operator out of band")
    auditing.add_argument("--state", type=Path, default=_default_audit_state(),
                          help="where the last verified checkpoint is remembered (default: %(default)s)")
    auditing.add_argument("--json", action="store_true")
    verify = aud.add_parser("verify", parents=[auditing],
                            help="verify record bundles and case histories (`guard disputes export`)")
    verify.add_argument("bundles", type=Path, nargs="+")
    verify.set_defaults(run=_audit_verify)
    checkpoint = aud.add_parser("checkpoint", parents=[auditing],
                                help="verify a new checkpoint against the last one seen, then remember it")
    checkpoint.add_argument("update", type=Path, help="a checkpoint update from `guard provenance checkpoint`")
    checkpoint.set_defaults(run=_audit_checkpoint)

    keys = commands.add_parser("keys", help="manage the signing keyring in the data directory (operator)")
    key_commands = keys.add_subparsers(title="keys commands")
    rotate = key_commands.add_parser("rotate", parents=[common], help="close the current key's window, start a new key")
    rotate.set_defaults(run=_keys_rotate)
    compromised = key_commands.add_parser("compromise", parents=[common],
                                          help="mark a key compromised: its signatures stop counting from --since")
    compromised.add_argument("key_id")
    compromised.add_argument("--since", required=True, help="RFC 3339 time from which the key is untrusted")
    compromised.set_defaults(run=_keys_compromise)
    show = key_commands.add_parser("list", parents=[common], help="print the public keyring")
    show.set_defaults(run=_keys_list)


def _provenance_bundle(args: argparse.Namespace) -> int:
    from guard.v1 import provenance_pb2, provenance_pb2_grpc

    response = rpc(args, "auditor", provenance_pb2_grpc.ProvenanceServiceStub, "ExportBundle",
                   provenance_pb2.ExportBundleRequest(record_id=args.record_id))
    if response is None:
        return 2
    out = args.out or Path(response.filename)
    out.write_text(response.bundle)
    print(f"wrote {out}")
    return 0


def _provenance_checkpoint(args: argparse.Namespace) -> int:
    from guard.v1 import provenance_pb2, provenance_pb2_grpc

    response = rpc(args, "auditor", provenance_pb2_grpc.ProvenanceServiceStub, "GetCheckpoint",
                   provenance_pb2.GetCheckpointRequest(old_size=args.old_size))
    if response is None:
        return 2
    args.out.write_text(response.checkpoint_update)
    print(f"wrote {args.out}: checkpoint of size {response.size}, consistency proof from size {response.old_size}")
    return 0


def _provenance_keyring(args: argparse.Namespace) -> int:
    from guard.v1 import provenance_pb2, provenance_pb2_grpc

    response = rpc(args, "auditor", provenance_pb2_grpc.ProvenanceServiceStub, "GetKeyring",
                   provenance_pb2.GetKeyringRequest())
    if response is None:
        return 2
    args.out.write_text(response.keyring)
    print(f"wrote {args.out}")
    return 0


def _default_audit_state() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("guard")) / "audit-checkpoint.json"


def _load_audit(args: argparse.Namespace):
    from guard.provenance.keyring import Keyring
    from guard.provenance.verify import SeenCheckpoint

    keyring = Keyring.from_json(args.keyring.read_text())
    seen = SeenCheckpoint.from_json(args.state.read_text(), keyring) if args.state.exists() else None
    return keyring, seen


def _print_reports(reports: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
        return
    for report in reports:
        print(f"{'OK  ' if report.ok else 'FAIL'} {report.subject}")
        for check in report.checks:
            print(f"  [{'ok' if check.ok else 'FAILED'}] {check.name}: {check.detail}")


def _audit_verify(args: argparse.Namespace) -> int:
    from guard.provenance.bundle import (
        HISTORY_TYPE,
        Bundle,
        BundleError,
        HistoryBundle,
        media_type,
    )
    from guard.provenance.verify import Check, Report, verify_bundle, verify_history

    keyring, seen = _load_audit(args)
    reports = []
    for path in args.bundles:
        try:
            text = path.read_text()
            if media_type(text) == HISTORY_TYPE:
                reports.append(verify_history(HistoryBundle.from_json(text), keyring))
            else:
                reports.append(verify_bundle(Bundle.from_json(text), keyring, seen))
        except (OSError, BundleError) as exc:
            reports.append(Report(subject=str(path), checks=[Check("bundle", False, str(exc))]))
    _print_reports(reports, args.json)
    return 0 if all(r.ok for r in reports) else 1


def _audit_checkpoint(args: argparse.Namespace) -> int:
    import datetime as dt

    from guard.provenance.bundle import BundleError, CheckpointUpdate
    from guard.provenance.verify import Check, Report, verify_checkpoint_update

    keyring, seen = _load_audit(args)
    try:
        update = CheckpointUpdate.from_json(args.update.read_text())
    except (OSError, BundleError) as exc:
        _print_reports([Report(str(args.update), [Check("checkpoint update", False, str(exc))])], args.json)
        return 1
    report, remembered = verify_checkpoint_update(update, keyring, seen, dt.datetime.now(dt.timezone.utc))
    _print_reports([report], args.json)
    if report.ok and remembered is not None and remembered is not seen:
        args.state.parent.mkdir(parents=True, exist_ok=True)
        args.state.write_text(remembered.to_json())
    return 0 if report.ok else 1


def _keys_rotate(args: argparse.Namespace) -> int:
    import datetime as dt

    from guard.datadir import DataDir

    keyring = DataDir(args.data_dir).signing_keys.rotate(dt.datetime.now(dt.timezone.utc))
    print(f"new signing key {keyring.keys[-1].key_id}; earlier keys keep verifying within their windows")
    return 0


def _keys_compromise(args: argparse.Namespace) -> int:
    from guard.datadir import DataDir
    from guard.provenance.keyring import KeyringError, parse_rfc3339

    try:
        DataDir(args.data_dir).signing_keys.mark_compromised(args.key_id, parse_rfc3339(args.since))
    except (KeyringError, ValueError) as exc:
        print(f"guard: {exc}", file=sys.stderr)
        return 2
    print(f"{args.key_id} is compromised from {args.since}; rotate if it was the current key")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from guard.datadir import DataDir

    print(DataDir(args.data_dir).signing_keys.keyring().to_json())
    return 0
