"""Composition root: storage, catalog, screener, servicers, interceptor, TLS, health, reflection, metrics."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

import takedown
from guard.analysis_workers import AnalysisWorkers, WorkersUnavailable, default_processes
from guard.auth import Authorizer
from guard.catalog import Catalog
from guard.config import MIB, Settings
from guard.datadir import DataDir
from guard.disputes import DisputeDesk
from guard.observability import Metrics, RequestInterceptor
from guard.policy import PolicyGate
from guard.prompts import PromptCipher
from guard.provenance.log import TransparencyLog
from guard.screening import Screener
from guard.servicers import (
    CatalogServicer,
    DisputeServicer,
    PolicyServicer,
    ProvenanceServicer,
    ScreeningServicer,
)
from guard.storage import create_engine_for, migrate
from guard.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    disputes_pb2,
    disputes_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    provenance_pb2,
    provenance_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)

log = structlog.get_logger("guard.server")

_PERSIST_EVERY_S = 5.0
_SERVICES = ("guard.v1.CatalogService", "guard.v1.ScreeningService", "guard.v1.ProvenanceService",
             "guard.v1.PolicyService", "guard.v1.DisputeService")
MODEL_VERSION = "chromaprint+faiss-ivf/1"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_screening_id() -> str:
    return "scr_" + secrets.token_hex(12)


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    metrics_port: int | None
    catalog: Catalog
    health: health.HealthServicer
    _stop_persisting: threading.Event
    _persister: threading.Thread
    _metrics_http: object | None
    desk: DisputeDesk
    transparency_log: TransparencyLog
    _scans: futures.ThreadPoolExecutor
    _analysis_workers: AnalysisWorkers
    _screener: Screener

    def stop(self, grace: float) -> None:
        """Refuse new calls, let in-flight ones finish within `grace`, then persist the index."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self._stop_persisting.set()
        self._persister.join()
        self._scans.shutdown(wait=True)
        self._screener.close()
        self._analysis_workers.close()
        self.catalog.persist()
        if self._metrics_http is not None:
            self._metrics_http.shutdown()  # type: ignore[attr-defined]
        log.info("server_stopped")


def start(
    settings: Settings,
    clock: Callable[[], dt.datetime] = utc_now,
    new_id: Callable[[], str] = new_screening_id,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> RunningServer:
    data_dir = DataDir(settings.data_dir)
    data_dir.ensure(clock())
    engine = create_engine_for(settings.effective_database_url)
    migrate(engine)
    transparency_log = TransparencyLog(engine, data_dir.signing_keys, clock)
    gate = PolicyGate(engine, data_dir.policy_keys, clock)
    calendar = takedown.BusinessCalendar(settings.jurisdiction, settings.subdivision)
    try:
        calendar.holiday(clock().date())
    except NotImplementedError as exc:
        raise SystemExit(f"guard: no holiday calendar for jurisdiction {settings.jurisdiction!r} "
                         f"(subdivision {settings.subdivision!r}): {exc}") from None
    desk = DisputeDesk(engine, transparency_log, calendar, clock, new_case_id,
                       takedown.DisputeRules(appeal_business_days=settings.appeal_business_days))
    scans = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard-rescan")

    def automated() -> takedown.Actor:
        bundle = gate.active.bundle
        return takedown.Actor("automated", "guard", policy_version=f"{bundle.bundle_id}@{bundle.revision}",
                              model_version=MODEL_VERSION)

    def rescan(row, printed) -> None:
        scans.submit(_logged, desk.rescan_for_work, row.work_id, row.number, printed, automated(), row.rights_holder)

    try:
        analysis_workers = AnalysisWorkers(settings.analysis_processes or default_processes())
    except WorkersUnavailable as exc:
        raise SystemExit(f"guard: {exc}") from None
    catalog = Catalog(engine, data_dir.index_dir, clock, settings.limits, on_new_work=rescan,
                      extract_melody=analysis_workers.extract_melody)
    metrics = Metrics()
    cipher = PromptCipher((settings.prompt_key_file or data_dir.prompt_key).read_bytes(), random_bytes)
    screener = Screener(engine, catalog, cipher, transparency_log, data_dir.signing_keys, gate, clock, new_id, random_bytes,
                        settings.limits, analysis_workers)

    message_limit = settings.limits.max_request_bytes + MIB
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="guard-rpc"),
        interceptors=[RequestInterceptor(Authorizer(data_dir.credentials()), metrics)],
        options=[
            ("grpc.max_receive_message_length", message_limit),
            ("grpc.max_send_message_length", message_limit),
        ],
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(catalog, desk, settings.limits), server)
    disputes_pb2_grpc.add_DisputeServiceServicer_to_server(DisputeServicer(desk), server)
    screening_pb2_grpc.add_ScreeningServiceServicer_to_server(
        ScreeningServicer(screener, metrics, settings.limits), server
    )
    provenance_pb2_grpc.add_ProvenanceServiceServicer_to_server(ProvenanceServicer(engine, transparency_log), server)
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(PolicyServicer(engine, gate), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (
        catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
        screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"].full_name,
        provenance_pb2.DESCRIPTOR.services_by_name["ProvenanceService"].full_name,
        policy_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name,
        disputes_pb2.DESCRIPTOR.services_by_name["DisputeService"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    credentials = grpc.ssl_server_credentials(
        [(data_dir.server_key.read_bytes(), data_dir.server_cert.read_bytes())]
    )
    port = server.add_secure_port(settings.listen, credentials)
    if port == 0:
        raise RuntimeError(f"cannot listen on {settings.listen}")
    server.start()
    for name in ("",) + _SERVICES:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    metrics_http, metrics_port = None, None
    if settings.metrics_listen:
        host, _, mport = settings.metrics_listen.rpartition(":")
        metrics_http, _thread = start_http_server(int(mport), addr=host.strip("[]"), registry=metrics.registry)
        metrics_port = metrics_http.server_port

    stop_persisting = threading.Event()
    persister = threading.Thread(
        target=_background_loop, args=(catalog, desk, automated, settings.due_interval_seconds, stop_persisting),
        name="guard-background", daemon=True,
    )
    persister.start()
    host = settings.listen.rpartition(":")[0]
    data_dir.address_file.write_text(f"{'localhost' if host in ('', '0.0.0.0', '[::]') else host}:{port}\n")
    log.info("server_started", listen=settings.listen, port=port, metrics_port=metrics_port,
             works=catalog.matcher.works, database=settings.effective_database_url.split(":", 1)[0])
    return RunningServer(server, port, metrics_port, catalog, health_servicer, stop_persisting, persister,
                         metrics_http, desk, transparency_log, scans, analysis_workers, screener)


def stop_on_signals() -> threading.Event:
    """Install SIGTERM/SIGINT handlers before the server announces itself, so no signal finds it defenceless."""
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return stopping


def _background_loop(catalog: Catalog, desk: DisputeDesk, automated: Callable[[], takedown.Actor],
                     due_every: float, stop: threading.Event) -> None:
    """Persist the index when it changed, and take the disputes' automated steps when they fall due."""
    last_due = 0.0
    while not stop.wait(_PERSIST_EVERY_S):
        _logged(catalog.persist)
        if time.monotonic() - last_due >= due_every:
            _logged(desk.run_due, automated())
            last_due = time.monotonic()


def _logged(fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("background_task_failed", task=getattr(fn, "__name__", str(fn)))


def new_case_id() -> str:
    return "case_" + secrets.token_hex(8)
