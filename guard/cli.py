"""The `guard` command line: the server, and the client commands of catalog admins and pipeline engineers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict, MessageToJson
from tqdm import tqdm

from guard.config import MIB, Limits, Settings, default_data_dir

_CHUNK = MIB
_RESERVED = {"work_id", "title", "rights_holder", "audio", "isrc", "iswc", "rights_holder_flags"}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="data directory (default: %(default)s)")
    client = argparse.ArgumentParser(add_help=False, parents=[common])
    client.add_argument("--server", help="HOST:PORT (default: the address `guard serve` wrote in the data directory)")
    client.add_argument("--ca", type=Path, help="CA certificate to trust (default: DATA_DIR/tls/ca.pem)")
    client.add_argument("--credential", type=Path, help="file holding the bearer credential "
                        "(default: DATA_DIR/credentials/ROLE.token)")

    parser = argparse.ArgumentParser(prog="guard", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", parents=[common], help="run the gRPC service")
    serve.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to listen on (default: %(default)s)")
    serve.add_argument("--database-url", help="SQLAlchemy URL, e.g. postgresql://user@host/db "
                       "(default: SQLite in the data directory; env GUARD_DATABASE_URL)")
    serve.add_argument("--metrics-listen", default="127.0.0.1:9464",
                       help="HOST:PORT for the Prometheus endpoint, or 'off' (default: %(default)s)")
    serve.add_argument("--max-request-mib", type=int, default=32, help="largest unary request (default: %(default)s)")
    serve.add_argument("--max-audio-seconds", type=float, default=900.0,
                       help="longest accepted audio (default: %(default)s)")
    serve.add_argument("--prompt-key-file", type=Path, help="32-byte AES key for prompts at rest "
                       "(default: DATA_DIR/keys/prompt.key; env GUARD_PROMPT_KEY_FILE)")
    serve.add_argument("--workers", type=int, default=8, help="concurrent RPCs (default: %(default)s)")
    serve.add_argument("--demo-catalog", action="store_true", help="register the synthetic demo works first")
    serve.set_defaults(run=_serve)

    catalog = commands.add_parser("catalog", help="catalog admin commands").add_subparsers(title="catalog commands")
    imp = catalog.add_parser("import", parents=[client], help="register works from a JSON-lines manifest")
    imp.add_argument("manifest", type=Path)
    imp.set_defaults(run=_catalog_import)
    lst = catalog.add_parser("list", parents=[client], help="list registered works")
    lst.add_argument("--include-retired", action="store_true")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_catalog_list)

    screen = commands.add_parser("screen", parents=[client], help="screen an audio file")
    screen.add_argument("file", type=Path)
    screen.add_argument("--json", action="store_true", help="print the whole response (protobuf JSON mapping)")
    screen.add_argument("--prompt", default="")
    screen.add_argument("--model-id", default="")
    screen.add_argument("--model-version", default="")
    screen.add_argument("--consent-reference", default="")
    screen.add_argument("--pipeline-id", default="guard-cli")
    screen.add_argument("--idempotency-key", default="")
    screen.add_argument("--consent-scope", default="", help="personal, commercial, research or internal")
    screen.set_defaults(run=_screen)

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
    verify = aud.add_parser("verify", parents=[auditing], help="verify bundles")
    verify.add_argument("bundles", type=Path, nargs="+")
    verify.set_defaults(run=_audit_verify)
    checkpoint = aud.add_parser("checkpoint", parents=[auditing],
                                help="verify a new checkpoint against the last one seen, then remember it")
    checkpoint.add_argument("update", type=Path, help="a checkpoint update from `guard provenance checkpoint`")
    checkpoint.set_defaults(run=_audit_checkpoint)

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

    disputes = commands.add_parser("disputes", help="legal staff: takedown and dispute cases")
    dis = disputes.add_subparsers(title="disputes commands")
    listing = dis.add_parser("list", parents=[client], help="list cases")
    listing.add_argument("--state")
    listing.add_argument("--due-before", help="YYYY-MM-DD")
    listing.add_argument("--work")
    listing.add_argument("--rights-holder", help="the claimant")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_disputes_list)
    due_cmd = dis.add_parser("due", parents=[client], help="what is due, and when")
    due_cmd.add_argument("--until", help="YYYY-MM-DD (default: everything scheduled)")
    due_cmd.add_argument("--json", action="store_true")
    due_cmd.set_defaults(run=_disputes_due)
    show_case = dis.add_parser("show", parents=[client], help="a case, its deadlines and its history")
    show_case.add_argument("case_id")
    show_case.add_argument("--json", action="store_true")
    show_case.set_defaults(run=_disputes_show)
    acting = dis.add_parser("act", parents=[client], help="take an action on a case (legal role)")
    acting.add_argument("case_id")
    acting.add_argument("action", help="accept, request_information, reject, disable, notify_uploader, forward, "
                        "report_lawsuit, restore, uphold, file_complaint, reverse, confirm, appeal, appeal_uphold, "
                        "appeal_dismiss, close")
    acting.add_argument("--reason", default="")
    acting.add_argument("--basis", default="", help="the rule or statute relied on")
    acting.add_argument("--evidence", nargs="*", default=[], help="SHA-256 of evidence files")
    acting.add_argument("--json", action="store_true")
    acting.set_defaults(run=_disputes_act)
    reporting = dis.add_parser("report", parents=[client], help="write the evidence report (HTML and JSON)")
    reporting.add_argument("case_id")
    reporting.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    reporting.set_defaults(run=_disputes_report)
    sor = dis.add_parser("export-sor", parents=[client],
                         help="statements of reasons in the DSA Transparency Database's field format (JSON lines)")
    sor.add_argument("--territory", nargs="*", default=[], help="ISO codes (default: the EU member states)")
    sor.add_argument("--out", type=Path, help="file (default: standard output)")
    sor.set_defaults(run=_disputes_export_sor)

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
    return parser


def _serve(args: argparse.Namespace) -> int:
    from guard import server
    from guard.observability import configure_logging

    configure_logging()
    settings = Settings(
        data_dir=args.data_dir,
        listen=args.listen,
        database_url=args.database_url or os.environ.get("GUARD_DATABASE_URL"),
        metrics_listen=None if args.metrics_listen == "off" else args.metrics_listen,
        workers=args.workers,
        prompt_key_file=args.prompt_key_file or _env_path("GUARD_PROMPT_KEY_FILE"),
        limits=Limits(max_request_bytes=args.max_request_mib * MIB, max_audio_seconds=args.max_audio_seconds),
    )
    stopping = server.stop_on_signals()
    running = server.start(settings)
    if args.demo_catalog:
        from guard.demo import install_demo

        queries = install_demo(running.catalog, settings.data_dir / "demo")
        guard_bin = Path(sys.argv[0]).resolve()
        print(f"\nguard is serving on {settings.listen} (TLS) with a demo catalog of 3 works.", file=sys.stderr)
        print("In another terminal, screen a file against it:", file=sys.stderr)
        for path in queries:
            print(f"  {guard_bin} screen --data-dir {settings.data_dir} {path}", file=sys.stderr)
        print(file=sys.stderr)
    stopping.wait()
    running.stop(settings.shutdown_grace_seconds)
    return 0


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _connect(args: argparse.Namespace, role: str):
    from guard.client import connect

    return connect(args.data_dir, role, server=args.server, ca_file=args.ca, token_file=args.credential)


@dataclass
class _ImportFailure:
    line: int
    work_id: str
    reason: str


def _catalog_import(args: argparse.Namespace) -> int:
    from guard.v1 import catalog_pb2, catalog_pb2_grpc

    try:
        lines = args.manifest.read_text().splitlines()
    except OSError as exc:
        print(f"guard: cannot read {args.manifest}: {exc.strerror}", file=sys.stderr)
        return 2
    base = args.manifest.parent
    conn = _connect(args, "catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    created = present = 0
    failures: list[_ImportFailure] = []
    entries = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    for number, line in tqdm(entries, desc="importing", unit="work", file=sys.stderr):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("each line must be a JSON object")
            missing = [k for k in ("work_id", "title", "rights_holder", "audio") if not entry.get(k)]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            details = catalog_pb2.WorkDetails(
                work_id=str(entry["work_id"]), title=str(entry["title"]), rights_holder=str(entry["rights_holder"]),
                isrc=str(entry.get("isrc", "")), iswc=str(entry.get("iswc", "")),
                rights_holder_flags=[str(f) for f in entry.get("rights_holder_flags", [])],
                metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in entry.items() if k not in _RESERVED},
            )
            audio_path = base / str(entry["audio"])
            response = stub.RegisterWork(_upload(details, audio_path), metadata=conn.metadata)
            created += response.created
            present += not response.created
        except (ValueError, OSError) as exc:
            failures.append(_ImportFailure(number, _work_id(line), str(exc)))
        except grpc.RpcError as exc:
            failures.append(_ImportFailure(number, _work_id(line), f"{exc.code().name}: {exc.details()}"))
    conn.close()
    print(f"imported {created + present} of {len(entries)} works "
          f"({created} new, {present} already registered), {len(failures)} failed")
    for failure in failures:
        print(f"  line {failure.line} ({failure.work_id or 'no work_id'}): {failure.reason}")
    return 1 if failures else 0


def _work_id(line: str) -> str:
    try:
        return str(json.loads(line).get("work_id", ""))
    except (ValueError, AttributeError):
        return ""


def _upload(details, path: Path) -> Iterator:
    from guard.v1 import catalog_pb2

    with path.open("rb") as handle:
        yield catalog_pb2.RegisterWorkRequest(work=details, recording_chunk=handle.read(_CHUNK))
        while chunk := handle.read(_CHUNK):
            yield catalog_pb2.RegisterWorkRequest(recording_chunk=chunk)


def _catalog_list(args: argparse.Namespace) -> int:
    from guard.v1 import catalog_pb2, catalog_pb2_grpc

    conn = _connect(args, "catalog")
    stub = catalog_pb2_grpc.CatalogServiceStub(conn.channel)
    works, token = [], ""
    while True:
        page = stub.ListWorks(
            catalog_pb2.ListWorksRequest(page_size=500, page_token=token, include_retired=args.include_retired),
            metadata=conn.metadata,
        )
        works.extend(page.works)
        token = page.next_page_token
        if not token:
            break
    conn.close()
    if args.json:
        print(json.dumps([MessageToDict(w, preserving_proto_field_name=True) for w in works], indent=2))
        return 0
    print(f"{'WORK ID':<24} {'STATE':<8} {'SECONDS':>8}  {'RIGHTS HOLDER':<24} TITLE")
    for w in works:
        state = "active" if w.state == catalog_pb2.WORK_STATE_ACTIVE else "retired"
        print(f"{w.details.work_id:<24} {state:<8} {w.recording_seconds:>8.1f}  "
              f"{w.details.rights_holder[:24]:<24} {w.details.title}")
    print(f"{len(works)} works")
    return 0


def _screen(args: argparse.Namespace) -> int:
    from guard.v1 import screening_pb2, screening_pb2_grpc

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"guard: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    generation = screening_pb2.Generation(
        prompt=args.prompt, model_id=args.model_id, model_version=args.model_version,
        consent_reference=args.consent_reference, pipeline_id=args.pipeline_id, consent_scope=args.consent_scope,
    )
    conn = _connect(args, "pipeline")
    stub = screening_pb2_grpc.ScreeningServiceStub(conn.channel)
    try:
        if len(data) <= 30 * MIB:
            response = stub.Screen(
                screening_pb2.ScreenRequest(audio=data, generation=generation, idempotency_key=args.idempotency_key),
                metadata=conn.metadata,
            )
        else:
            def chunks() -> Iterator:
                yield screening_pb2.ScreenStreamRequest(generation=generation, idempotency_key=args.idempotency_key)
                for i in range(0, len(data), _CHUNK):
                    yield screening_pb2.ScreenStreamRequest(audio_chunk=data[i:i + _CHUNK])
            response = stub.ScreenStream(chunks(), metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: screening failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    if args.json:
        print(MessageToJson(response, preserving_proto_field_name=True))
        return 0
    verdict = screening_pb2.Verdict.Name(response.verdict).removeprefix("VERDICT_").lower()
    print(f"verdict: {verdict}   screening {response.screening_id}   {response.duration_seconds:.1f} s of audio")
    for m in response.matches:
        print(f"  {m.work_id} \"{m.title}\" ({m.rights_holder}): query {m.query_start_seconds:.1f}-"
              f"{m.query_end_seconds:.1f} s = reference {m.reference_start_seconds:.1f}-{m.reference_end_seconds:.1f} s, "
              f"score {m.score:.6f}, bit errors {m.bit_error_rate:.1%} [{m.fingerprint}]")
    timings = ", ".join(f"{t.stage} {t.milliseconds:.1f} ms" for t in response.timings)
    print(f"  stages: {timings}")
    print(f"  provenance record {response.record_id} at log index {response.log_index}")
    return 0


def _provenance_bundle(args: argparse.Namespace) -> int:
    from guard.v1 import provenance_pb2, provenance_pb2_grpc

    conn = _connect(args, "auditor")
    try:
        response = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel).ExportBundle(
            provenance_pb2.ExportBundleRequest(record_id=args.record_id), metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    out = args.out or Path(response.filename)
    out.write_text(response.bundle)
    print(f"wrote {out}")
    return 0


def _provenance_checkpoint(args: argparse.Namespace) -> int:
    from guard.v1 import provenance_pb2, provenance_pb2_grpc

    conn = _connect(args, "auditor")
    try:
        response = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel).GetCheckpoint(
            provenance_pb2.GetCheckpointRequest(old_size=args.old_size), metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    args.out.write_text(response.checkpoint_update)
    print(f"wrote {args.out}: checkpoint of size {response.size}, consistency proof from size {response.old_size}")
    return 0


def _provenance_keyring(args: argparse.Namespace) -> int:
    from guard.v1 import provenance_pb2, provenance_pb2_grpc

    conn = _connect(args, "auditor")
    try:
        response = provenance_pb2_grpc.ProvenanceServiceStub(conn.channel).GetKeyring(
            provenance_pb2.GetKeyringRequest(), metadata=conn.metadata)
    finally:
        conn.close()
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
    from guard.provenance.bundle import Bundle, BundleError
    from guard.provenance.verify import Check, Report, verify_bundle

    keyring, seen = _load_audit(args)
    reports = []
    for path in args.bundles:
        try:
            reports.append(verify_bundle(Bundle.from_json(path.read_text()), keyring, seen))
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
    conn = _connect(args, "admin")
    try:
        info = policy_pb2_grpc.PolicyServiceStub(conn.channel).ActivateBundle(
            policy_pb2.ActivateBundleRequest(files=files), metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(f"active: {info.bundle_id} revision {info.revision} ({info.rules} rules, digest {info.digest[:16]})")
    return 0


def _policy_explain(args: argparse.Namespace) -> int:
    from guard.v1 import policy_pb2, policy_pb2_grpc

    conn = _connect(args, "legal")
    try:
        explained = policy_pb2_grpc.PolicyServiceStub(conn.channel).GetDecision(
            policy_pb2.GetDecisionRequest(decision_id=args.decision_id), metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        conn.close()
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
    from guard.config import Settings
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


def _dispute_stub(args: argparse.Namespace, role: str = "legal"):
    from guard.v1 import disputes_pb2_grpc

    conn = _connect(args, role)
    return conn, disputes_pb2_grpc.DisputeServiceStub(conn.channel)


def _dispute_call(args: argparse.Namespace, method: str, request):
    conn, stub = _dispute_stub(args)
    try:
        return getattr(stub, method)(request, metadata=conn.metadata)
    except grpc.RpcError as exc:
        print(f"guard: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return None
    finally:
        conn.close()


def _print_cases(cases, as_json: bool) -> None:
    if as_json:
        print(json.dumps([MessageToDict(c, preserving_proto_field_name=True) for c in cases], indent=2))
        return
    print(f"{'CASE':<22} {'STATE':<28} {'ORIGIN':<11} {'WORK':<16} {'CLAIMANT':<22} NEXT")
    for c in cases:
        nxt = f"{c.due_action} on {c.due_on}" if c.due_action else "-"
        print(f"{c.case_id:<22} {c.state:<28} {c.origin:<11} {c.work_id[:16]:<16} "
              f"{c.notice.claimant_name[:22]:<22} {nxt}")
    print(f"{len(cases)} cases")


def _disputes_list(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    reply = _dispute_call(args, "ListCases", disputes_pb2.ListCasesRequest(
        state=args.state or "", work_id=args.work or "", claimant=args.rights_holder or "",
        due_before=args.due_before or ""))
    if reply is None:
        return 2
    _print_cases(reply.cases, args.json)
    return 0


def _disputes_due(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    reply = _dispute_call(args, "ListDue", disputes_pb2.ListDueRequest(until=args.until or ""))
    if reply is None:
        return 2
    if args.json:
        _print_cases(reply.cases, True)
        return 0
    for c in sorted(reply.cases, key=lambda c: c.due_on):
        print(f"{c.due_on}  {c.case_id:<22} {c.due_action:<16} (now {c.state})")
    print(f"{len(reply.cases)} cases with a scheduled step")
    return 0


def _print_case(case) -> None:
    n = case.notice
    print(f"case {case.case_id}: {case.state.upper()} ({case.origin}, {n.regime.upper()})")
    print(f"  claimant {n.claimant_name or '-'} <{n.claimant_email or '-'}>; work {case.work_id or '-'}; "
          f"track {case.track_id}; uploader {case.uploader or '-'}"
          f"{' (REPEAT INFRINGER)' if case.uploader_is_repeat_infringer else ''}")
    if case.missing_elements:
        print("  notice lacks: " + "; ".join(case.missing_elements))
    for label, value in (("respond by", case.respond_by), ("restore not before", case.restore_not_before),
                         ("restore not after", case.restore_not_after),
                         ("next step", f"{case.due_action} on {case.due_on}" if case.due_action else "")):
        if value:
            print(f"  {label}: {value}")
    if case.statement_of_reasons:
        print(f"  statement of reasons: {case.statement_of_reasons}")
    print("  history:")
    for e in case.events:
        who = f"{e.actor_id} ({e.actor_role or e.actor_kind})"
        print(f"    {e.sequence:>2} {e.at.ToJsonString()} {e.action:<22} {e.from_state or '-'} -> {e.to_state:<16} "
              f"by {who}; {e.basis}{'; ' + e.reason if e.reason else ''} [log {e.log_index}]")


def _disputes_show(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    case = _dispute_call(args, "GetCase", disputes_pb2.GetCaseRequest(case_id=args.case_id))
    if case is None:
        return 2
    if args.json:
        print(MessageToJson(case, preserving_proto_field_name=True))
    else:
        _print_case(case)
    return 0


def _disputes_act(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    case = _dispute_call(args, "Act", disputes_pb2.ActRequest(
        case_id=args.case_id, action=args.action, reason=args.reason, basis=args.basis,
        evidence_sha256=args.evidence))
    if case is None:
        return 1
    if args.json:
        print(MessageToJson(case, preserving_proto_field_name=True))
    else:
        _print_case(case)
    return 0


def _disputes_report(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    report = _dispute_call(args, "GetReport", disputes_pb2.GetCaseRequest(case_id=args.case_id))
    if report is None:
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = args.out / f"{args.case_id}.html", args.out / f"{args.case_id}.json"
    html_path.write_text(report.html)
    json_path.write_text(report.json)
    print(f"wrote {html_path} and {json_path}")
    return 0


def _disputes_export_sor(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    reply = _dispute_call(args, "ExportStatements",
                          disputes_pb2.ExportStatementsRequest(territorial_scope=args.territory))
    if reply is None:
        return 2
    if args.out:
        args.out.write_text(reply.statements)
        print(f"wrote {len(reply.statements.splitlines())} statements to {args.out}")
    else:
        sys.stdout.write(reply.statements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
