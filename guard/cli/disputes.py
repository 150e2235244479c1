"""`guard disputes`: legal staff work takedown and dispute cases."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from google.protobuf.json_format import MessageToDict, MessageToJson

from guard.cli._shared import rpc


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
             client: argparse.ArgumentParser) -> None:
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
    export = dis.add_parser("export", parents=[client],
                            help="a case's logged history with inclusion proofs, for `guard audit verify`")
    export.add_argument("case_id")
    export.add_argument("--out", type=Path, help="file (default: CASE.case-history.json)")
    export.set_defaults(run=_disputes_export)
    sor = dis.add_parser("export-sor", parents=[client],
                         help="statements of reasons in the DSA Transparency Database's field format (JSON lines)")
    sor.add_argument("--territory", nargs="*", default=[], help="ISO codes (default: the EU member states)")
    sor.add_argument("--out", type=Path, help="file (default: standard output)")
    sor.set_defaults(run=_disputes_export_sor)


def _dispute_call(args: argparse.Namespace, method: str, request):
    from guard.v1 import disputes_pb2_grpc

    return rpc(args, "legal", disputes_pb2_grpc.DisputeServiceStub, method, request)


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


def _disputes_export(args: argparse.Namespace) -> int:
    from guard.v1 import disputes_pb2

    history = _dispute_call(args, "ExportHistory", disputes_pb2.GetCaseRequest(case_id=args.case_id))
    if history is None:
        return 2
    out = args.out or Path(f"{args.case_id}.case-history.json")
    out.write_text(history.bundle)
    print(f"wrote {out}")
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
