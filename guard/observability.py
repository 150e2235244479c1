"""One JSON log line and one set of metrics per request, from a single server interceptor.

The interceptor authenticates and authorises before any servicer code runs,
binds the request's context (request id, role, method) for structlog, and
records status, duration and the stage timings the servicer reports.
Prompts, audio and credentials are never bound, and a redaction processor
drops them should anyone try.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import grpc
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from guard.auth import AuthError, Authorizer, Principal

_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("guard_principal", default=None)


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served (set by the interceptor)."""
    principal = _PRINCIPAL.get()
    if principal is None:
        raise RuntimeError("no authenticated principal outside an RPC")
    return principal


_REDACTED_KEYS = frozenset({"prompt", "authorization", "token", "audio", "key", "password"})
_MAX_MODEL_LABELS = 200


def configure_logging(stream: TextIO = sys.stderr, level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def _redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in _REDACTED_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


class Metrics:
    """Prometheus series for one server (its own registry, so several servers can share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "guard_requests", "RPCs handled", ["method", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "guard_request_seconds", "RPC latency", ["method"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.stages = Histogram(
            "guard_stage_seconds", "Screening pipeline stage latency", ["stage"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.verdicts = Counter(
            "guard_verdicts", "Screening verdicts", ["model_id", "verdict"], registry=self.registry
        )
        self._models: set[str] = set()

    def verdict(self, model_id: str, verdict: str) -> None:
        """Count a verdict; model ids are caller-chosen, so the label set is capped."""
        if model_id not in self._models and len(self._models) < _MAX_MODEL_LABELS:
            self._models.add(model_id)
        self.verdicts.labels(model_id if model_id in self._models else "other", verdict).inc()

    def stage_timings(self, timings: dict[str, float]) -> None:
        for stage, ms in timings.items():
            self.stages.labels(stage).observe(ms / 1000)
        structlog.contextvars.bind_contextvars(stages_ms=timings)


class RequestInterceptor(grpc.ServerInterceptor):
    def __init__(self, authorizer: Authorizer, metrics: Metrics) -> None:
        self._authorizer = authorizer
        self._metrics = metrics
        self._log = structlog.get_logger("guard.request")

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        authorization = dict(details.invocation_metadata or ()).get("authorization")

        def wrap(behavior: Callable[..., Any], streams_out: bool) -> Callable[..., Any]:
            if streams_out:
                def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                    with self._request(method, authorization, context):
                        yield from behavior(request, context)
                return streaming

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                with self._request(method, authorization, context):
                    return behavior(request, context)
            return unary

        kinds = {
            "unary_unary": (grpc.unary_unary_rpc_method_handler, False),
            "unary_stream": (grpc.unary_stream_rpc_method_handler, True),
            "stream_unary": (grpc.stream_unary_rpc_method_handler, False),
            "stream_stream": (grpc.stream_stream_rpc_method_handler, True),
        }
        for attr, (factory, streams_out) in kinds.items():
            behavior = getattr(handler, attr)
            if behavior is not None:
                return factory(
                    wrap(behavior, streams_out),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler

    @contextmanager
    def _request(self, method: str, authorization: str | None, context: grpc.ServicerContext) -> Iterator[None]:
        structlog.contextvars.clear_contextvars()
        request_id = uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id, method=method)
        start = time.perf_counter()
        failure: str | None = None
        try:
            try:
                principal = self._authorizer.authorize(method, authorization)
            except AuthError as exc:
                code = grpc.StatusCode.UNAUTHENTICATED if exc.unauthenticated else grpc.StatusCode.PERMISSION_DENIED
                context.abort(code, str(exc))
            structlog.contextvars.bind_contextvars(role=principal.role, principal=principal.name)
            token = _PRINCIPAL.set(principal)
            try:
                yield
            finally:
                _PRINCIPAL.reset(token)
        except Exception as exc:
            if context.code() is None:
                failure = type(exc).__name__
                self._log.exception("unhandled_error")
                context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")
            raise
        finally:
            code = context.code() or grpc.StatusCode.OK
            elapsed = time.perf_counter() - start
            self._metrics.requests.labels(method, code.name).inc()
            self._metrics.latency.labels(method).observe(elapsed)
            self._log.info(
                "request", status=code.name, duration_ms=round(elapsed * 1000, 3),
                **({"error": failure} if failure else {}),
            )
            structlog.contextvars.clear_contextvars()
