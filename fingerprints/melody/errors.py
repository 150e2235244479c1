"""Typed errors of the melody pipeline; the transport maps them to statuses.

Both families derive from fingerprints.errors.FingerprintError, like the audio pipeline's errors:
 - InvalidMelody: the caller sent a melody file that cannot be screened (unreadable MIDI/MusicXML/ABC,
   empty, percussion only, absurd tempo or pitch, over a limit); the message says what is wrong.
 - NoMelodyFound: audio without a lead melody (silence, drums, noise, speech); screening reports
   "no melody found", never a match.
"""

from fingerprints.errors import FingerprintError


class MelodyError(FingerprintError):
    """Base of every error this subpackage raises on purpose."""


class InvalidMelody(MelodyError):
    """The bytes are not a usable MIDI, MusicXML or ABC melody (the caller must send something else)."""


class ImplausibleMelody(InvalidMelody):
    """The file parses but describes no playable music: absurd tempo, pitch or note values."""


class MelodyLimitExceeded(InvalidMelody):
    """The file is valid but exceeds a configured limit (size, length, note count)."""


class NoMelodyFound(MelodyError):
    """Audio without a melody (silence, drums, noise, speech): nothing to screen."""
