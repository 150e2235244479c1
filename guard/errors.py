"""Errors the service raises on purpose; each carries the gRPC status the caller should see."""

from __future__ import annotations

import grpc


class GuardError(Exception):
    status = grpc.StatusCode.INTERNAL


class InvalidArgument(GuardError):
    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(GuardError):
    status = grpc.StatusCode.NOT_FOUND


class AlreadyExists(GuardError):
    status = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(GuardError):
    status = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(GuardError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
