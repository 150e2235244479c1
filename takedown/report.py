"""Evidence reports a lawyer can read and forward: one self-contained HTML file (plots embedded) and its JSON.

Everything shown is passed in (the case, its history, the matches with
their similarity over time or aligned notes, the provenance record and its
verification, the policy decision); nothing here reads storage or clocks.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from dataclasses import asdict, dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from takedown.machine import Case, case_to_dict  # noqa: E402


@dataclass(frozen=True)
class AudioEvidence:
    work_id: str
    fingerprint: str
    score: float
    query_span: tuple[float, float]
    reference_span: tuple[float, float]
    similarity: tuple[tuple[float, float], ...] = ()
    """(query seconds, 1 - bit-error rate) along the alignment, for the plot."""


@dataclass(frozen=True)
class NotePair:
    query_onset: float
    query_pitch: int
    reference_onset: float
    reference_pitch: int
    reference_bar: int


@dataclass(frozen=True)
class MelodyEvidence:
    work_id: str
    score: float
    query_span: tuple[float, float]
    reference_bars: tuple[int, int]
    transposition: float
    tempo_ratio: float
    pairs: tuple[NotePair, ...] = ()


@dataclass(frozen=True)
class ReportInput:
    case: Case
    origin: str
    work_id: str
    events: tuple[dict, ...]
    """Each event's payload plus its hash and log index."""
    audio: tuple[AudioEvidence, ...] = ()
    melody: tuple[MelodyEvidence, ...] = ()
    record: dict | None = None
    verification: tuple[dict, ...] = ()
    """The offline verifier's checks on the record's bundle: name, ok, detail."""
    decision: dict | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))


def render_json(report: ReportInput) -> str:
    data = {
        "case": case_to_dict(report.case), "origin": report.origin, "work_id": report.work_id,
        "events": list(report.events), "audio_evidence": [asdict(a) for a in report.audio],
        "melody_evidence": [asdict(m) for m in report.melody], "provenance_record": report.record,
        "provenance_verification": list(report.verification), "policy_decision": report.decision,
        "generated_at": report.generated_at.isoformat(),
    }
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def render_html(report: ReportInput) -> str:
    case = report.case
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evidence report {e(case.case_id)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;text-align:left}"
        ".ok{color:#186a3b}.fail{color:#a93226}img{max-width:100%}</style></head><body>",
        f"<h1>Evidence report: case {e(case.case_id)}</h1>",
        f"<p>State <b>{e(case.state.value)}</b>; opened {e(case.opened_at.isoformat())} from a "
        f"{'retroactive claim' if report.origin == 'retroactive' else e(case.notice.regime.upper()) + ' notice'} "
        f"by {e(case.notice.claimant_name or 'unknown claimant')} about work {e(report.work_id or '(unnamed)')}; "
        f"track {e(case.track_id)}. Generated {e(report.generated_at.isoformat())}.</p>",
    ]
    if case.restore_not_before:
        parts.append(f"<p>Restore window: {case.restore_not_before} to {case.restore_not_after} (business days "
                     "10 to 14 after the counter-notice).</p>")
    for item in report.audio:
        parts += [
            f"<h2>Audio match: {e(item.work_id)} ({e(item.fingerprint)})</h2>",
            f"<p>Seconds {item.query_span[0]:.1f}-{item.query_span[1]:.1f} of the track reproduce seconds "
            f"{item.reference_span[0]:.1f}-{item.reference_span[1]:.1f} of the work; score {item.score:.6f} "
            "(1 minus the estimated probability that unrelated music matches this well).</p>",
            _img(_audio_plot(item), f"similarity over time for {item.work_id}"),
        ]
    for item in report.melody:
        parts += [
            f"<h2>Melodic match: {e(item.work_id)}</h2>",
            f"<p>Seconds {item.query_span[0]:.1f}-{item.query_span[1]:.1f} of the track quote bars "
            f"{item.reference_bars[0]}-{item.reference_bars[1]} of the work, transposed {item.transposition:+.1f} "
            f"semitones at {item.tempo_ratio:.2f}x tempo; score {item.score:.6f}; {len(item.pairs)} aligned notes.</p>",
            _img(_piano_roll(item), f"aligned melody for {item.work_id}"),
        ]
    if report.decision:
        d = report.decision
        parts += ["<h2>Policy decision</h2>",
                  f"<p><b>{e(str(d.get('decision', d.get('effect', ''))))}</b> under {e(str(d.get('bundle_id')))} "
                  f"revision {e(str(d.get('revision')))}; rules: {e(', '.join(d.get('determining_rules', [])) or 'none')}."
                  "</p>"]
        parts += [f"<p>{e(r)}</p>" for r in d.get("reasons", [])]
    if report.record is not None:
        parts += ["<h2>Provenance record</h2>", "<table><tr><th>check</th><th>result</th><th>detail</th></tr>"]
        for check in report.verification:
            css = "ok" if check["ok"] else "fail"
            parts.append(f"<tr><td>{e(check['name'])}</td><td class='{css}'>{'ok' if check['ok'] else 'FAILED'}"
                         f"</td><td>{e(check['detail'])}</td></tr>")
        parts.append(f"</table><pre>{e(json.dumps(report.record, indent=2, sort_keys=True))}</pre>")
    parts += ["<h2>Case history</h2>", "<table><tr><th>#</th><th>when</th><th>action</th><th>state</th>"
              "<th>by</th><th>basis</th><th>reason</th><th>log index</th></tr>"]
    for ev in report.events:
        actor = ev["actor"]
        who = f"{actor['id']} ({actor['role'] or actor['kind']})"
        parts.append(f"<tr><td>{ev['sequence']}</td><td>{e(ev['at'])}</td><td>{e(ev['action'])}</td>"
                     f"<td>{e(ev['from'] or '-')} &rarr; {e(ev['to'])}</td><td>{e(who)}</td><td>{e(ev['basis'])}</td>"
                     f"<td>{e(ev['reason'])}</td><td>{ev.get('log_index', '')}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _audio_plot(item: AudioEvidence) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 2.6))
    if item.similarity:
        times, values = zip(*item.similarity)
        ax.plot(times, values, lw=1, color="#1f618d")
    ax.axvspan(*item.query_span, color="#f5b041", alpha=0.3, label="matched span")
    ax.axhline(0.5, ls="--", lw=0.8, color="grey", label="unrelated music (~0.5)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("track time (s)")
    ax.set_ylabel("fingerprint similarity")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _piano_roll(item: MelodyEvidence) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 3.2))
    shift = round(item.transposition)
    for pair in item.pairs:
        ax.barh(pair.query_pitch, 0.2, left=pair.query_onset, height=0.8, color="#1f618d", alpha=0.8)
        ax.barh(pair.reference_pitch + shift, 0.2, left=pair.query_onset, height=0.4, color="#f39c12", alpha=0.9)
    bars = sorted({(p.reference_bar, p.query_onset) for p in item.pairs}, key=lambda b: b[1])
    seen = set()
    for bar, onset in bars:
        if bar not in seen:
            seen.add(bar)
            ax.axvline(onset, color="grey", lw=0.5)
            ax.text(onset, ax.get_ylim()[1], f"bar {bar}", fontsize=7, va="bottom")
    ax.set_xlabel("track time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(f"track (blue) and work transposed {shift:+d} (orange)", fontsize=9)
    return _png(fig)
