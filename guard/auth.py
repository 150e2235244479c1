"""Who may call what: bearer credentials map to roles, and every RPC names the roles it admits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ROLES = ("pipeline", "catalog", "legal", "auditor", "admin")

_ANY_ROLE = frozenset(ROLES)
_CATALOG_WRITE = frozenset({"catalog", "admin"})
_CATALOG_READ = frozenset({"catalog", "admin", "legal", "auditor"})
_SCREEN = frozenset({"pipeline", "admin"})
_RECORDS = frozenset({"pipeline", "legal", "auditor", "admin"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "/guard.v1.CatalogService/RegisterWork": _CATALOG_WRITE,
    "/guard.v1.CatalogService/RetireWork": _CATALOG_WRITE,
    "/guard.v1.CatalogService/GetWork": _CATALOG_READ,
    "/guard.v1.CatalogService/ListWorks": _CATALOG_READ,
    "/guard.v1.ScreeningService/Screen": _SCREEN,
    "/guard.v1.ScreeningService/ScreenStream": _SCREEN,
    "/guard.v1.ProvenanceService/GetRecord": _RECORDS,
    "/guard.v1.ProvenanceService/ExportBundle": _RECORDS,
    "/guard.v1.ProvenanceService/GetCheckpoint": _ANY_ROLE,
    "/guard.v1.ProvenanceService/GetConsistencyProof": _ANY_ROLE,
    "/guard.v1.ProvenanceService/GetKeyring": _ANY_ROLE,
    "/guard.v1.PolicyService/ActivateBundle": frozenset({"admin"}),
    "/guard.v1.PolicyService/GetActiveBundle": _ANY_ROLE,
    "/guard.v1.PolicyService/GetDecision": _RECORDS,
    "/guard.v1.DisputeService/FileNotice": frozenset({"catalog", "admin"}),
    "/guard.v1.DisputeService/FileCounterNotice": frozenset({"pipeline", "admin"}),
    "/guard.v1.DisputeService/Act": frozenset({"legal", "admin"}),
    "/guard.v1.DisputeService/GetCase": frozenset({"legal", "auditor", "admin"}),
    "/guard.v1.DisputeService/ListCases": frozenset({"legal", "auditor", "admin"}),
    "/guard.v1.DisputeService/ListDue": frozenset({"legal", "auditor", "admin"}),
    "/guard.v1.DisputeService/GetReport": frozenset({"legal", "auditor", "admin"}),
    "/guard.v1.DisputeService/ExportHistory": frozenset({"legal", "auditor", "admin"}),
    "/guard.v1.DisputeService/ExportStatements": frozenset({"legal", "auditor", "admin"}),
    "/grpc.health.v1.Health/Check": _ANY_ROLE,
    "/grpc.health.v1.Health/Watch": _ANY_ROLE,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": _ANY_ROLE,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": _ANY_ROLE,
}
"""Deny by default: a method missing here is refused to everyone."""


@dataclass(frozen=True)
class Credential:
    digest: str
    role: str
    name: str


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


class AuthError(Exception):
    """Raised with a message safe to show the caller; `unauthenticated` picks the status."""

    def __init__(self, message: str, *, unauthenticated: bool) -> None:
        super().__init__(message)
        self.unauthenticated = unauthenticated


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authorizer:
    def __init__(self, credentials: list[Credential]) -> None:
        unknown = {c.role for c in credentials} - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles in credential registry: {sorted(unknown)}")
        self._by_digest = {c.digest: c for c in credentials}

    def authorize(self, method: str, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("missing credential: send 'authorization: Bearer <token>' metadata", unauthenticated=True)
        credential = self._by_digest.get(token_digest(authorization.removeprefix("Bearer ").strip()))
        if credential is None:
            raise AuthError("unknown credential", unauthenticated=True)
        allowed = PERMISSIONS.get(method, frozenset())
        if credential.role not in allowed:
            needed = ", ".join(sorted(allowed)) or "no role"
            raise AuthError(f"role '{credential.role}' may not call {method} (needs: {needed})", unauthenticated=False)
        return Principal(credential.name, credential.role)
