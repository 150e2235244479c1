"""Typed errors of the fingerprint pipeline; the transport maps them to statuses."""


class FingerprintError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidAudio(FingerprintError):
    """The bytes are not usable audio (the caller must send something else)."""


class AudioLimitExceeded(FingerprintError):
    """The audio is valid but exceeds a configured limit (length, size)."""
