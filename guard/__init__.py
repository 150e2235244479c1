"""guard: the gRPC service that screens generated music against known works.

Composes the domain packages (`fingerprints`, `policies`, `takedown`) with
transport, storage, configuration and the command line; nothing else
imports from here.
"""
