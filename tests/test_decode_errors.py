"""Bad audio is refused with a message that says what is wrong, before anything is stored."""

from __future__ import annotations

import numpy as np
import pytest

import fingerprints
from tests.audio import DEMO_RATE, encode, synth_music, wav_bytes, wav_header_only


def decode(data: bytes, max_seconds: float = 60.0) -> fingerprints.Audio:
    return fingerprints.decode(data, sample_rate=fingerprints.SAMPLE_RATE, max_seconds=max_seconds)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"this is plainly not audio, it is a sentence" * 20, "not a recognised audio file"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "not a recognised audio file"),
        (wav_header_only(channels=1000, rate=44100), "channel count"),
        (wav_header_only(channels=1, rate=1), "sample rate"),
        (wav_header_only(channels=2, rate=2_000_000), "sample rate"),
        (wav_header_only(channels=1, rate=44100, data=b""), "no audio samples"),
    ],
)
def test_unusable_bytes_are_invalid(data: bytes, message: str) -> None:
    with pytest.raises(fingerprints.InvalidAudio, match=message):
        decode(data)


def test_truncated_file_is_invalid() -> None:
    whole = wav_bytes(synth_music(1, 20.0), DEMO_RATE)
    with pytest.raises(fingerprints.InvalidAudio, match="truncated"):
        decode(whole[: len(whole) // 2])


def test_corrupt_compressed_stream_is_invalid_or_decodes_what_is_sound() -> None:
    data = bytearray(encode(synth_music(2, 20.0), DEMO_RATE, "flac"))
    rng = np.random.default_rng(0)
    for pos in rng.integers(200, len(data), 400):
        data[pos] ^= 0xFF
    try:
        audio = decode(bytes(data))
    except fingerprints.InvalidAudio as exc:
        assert "corrupt" in str(exc) or "truncated" in str(exc) or "recognised" in str(exc)
    else:
        assert np.isfinite(audio.samples).all()


def test_non_finite_float_samples_are_invalid() -> None:
    samples = np.full(DEMO_RATE, np.nan, dtype="<f4")
    import struct

    fmt = struct.pack("<HHIIHH", 3, 1, DEMO_RATE, DEMO_RATE * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", samples.nbytes) + samples.tobytes()
    with pytest.raises(fingerprints.InvalidAudio, match="non-finite"):
        decode(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_audio_over_the_length_limit_is_refused_without_decoding_it_all() -> None:
    with pytest.raises(fingerprints.AudioLimitExceeded, match="longer than the 10 s limit"):
        decode(wav_bytes(synth_music(3, 30.0), DEMO_RATE), max_seconds=10)


def test_silence_is_recognised() -> None:
    assert fingerprints.is_silent(decode(wav_bytes(np.zeros(DEMO_RATE * 3, np.float32), DEMO_RATE)))
    assert not fingerprints.is_silent(decode(wav_bytes(synth_music(4, 3.0), DEMO_RATE)))


def test_stream_whose_channel_layout_changes_midway_decodes_whole() -> None:
    # MP3 frames may switch between mono and stereo; two MP3s end to end (the second without its ID3 tag) do.
    first = encode(synth_music(11, 8.0), DEMO_RATE, "mp3", channels=1, bit_rate=64_000)
    second = encode(synth_music(12, 8.0), DEMO_RATE, "mp3", channels=2, bit_rate=64_000)
    if second[:3] == b"ID3":
        second = second[10 + ((second[6] << 21) | (second[7] << 14) | (second[8] << 7) | second[9]):]
    audio = decode(first + second)
    assert abs(audio.duration - 16.0) < 0.3
    assert np.isfinite(audio.samples).all()
