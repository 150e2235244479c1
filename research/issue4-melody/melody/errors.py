"""Typed errors of the melody pipeline; the transport maps them to statuses."""


class MelodyError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidScore(MelodyError):
    """The bytes are not a readable MIDI, MusicXML or ABC file (the caller must send something else)."""


class ImplausibleMelody(InvalidScore):
    """The file parses but describes no playable music: absurd tempo, pitch or note values."""


class NoMelodyFound(MelodyError):
    """Nothing to screen: an empty or percussion-only score, or audio without a melody (silence, drums,
    noise, speech). Screening reports "no melody found", never a match."""


class MelodyLimitExceeded(MelodyError):
    """The input is valid but exceeds a configured limit (size, length, note count)."""
