"""Test audio made on the spot: synthesised music, encoded in-process with PyAV (FFmpeg)."""

from __future__ import annotations

import io
import struct
import subprocess

import av
import numpy as np

from guard.demo import DEMO_RATE, synth_music, wav_bytes

__all__ = ["DEMO_RATE", "encode", "synth_music", "wav_bytes", "wav_header_only", "mix"]

_CODECS = {
    "wav": ("wav", "pcm_s16le", None),
    "wav24": ("wav", "pcm_s24le", None),
    "wavf32": ("wav", "pcm_f32le", None),
    "wavu8": ("wav", "pcm_u8", None),
    "flac": ("flac", "flac", None),
    "opus": ("ogg", "libopus", 48_000),
    "mp3": ("mp3", "libmp3lame", None),
}


def encode(samples: np.ndarray, rate: int, kind: str, *, channels: int = 1, bit_rate: int | None = None,
           inverted: bool = False) -> bytes:
    """Encode mono float samples as `kind` (see _CODECS), optionally duplicated to `channels`, the second of them
    with its polarity `inverted`."""
    if kind == "ogg":
        return _ffmpeg_vorbis(samples, rate, channels)
    container_format, codec, forced_rate = _CODECS[kind]
    out_rate = forced_rate or rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=out_rate)
        stream.layout = "mono" if channels == 1 else "stereo"
        if bit_rate:
            stream.bit_rate = bit_rate
        planes = np.tile(samples.astype(np.float32)[None, :], (channels, 1))
        if inverted:
            planes[1] = -planes[1]
        frame = av.AudioFrame.from_ndarray(
            planes, format="fltp",
            layout="mono" if channels == 1 else "stereo",
        )
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout=stream.layout.name, rate=out_rate,
                                      frame_size=stream.codec_context.frame_size or 1024)
        for piece in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(piece):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def _ffmpeg_vorbis(samples: np.ndarray, rate: int, channels: int) -> bytes:
    """Ogg Vorbis through Debian's ffmpeg (PyAV's wheel has no libvorbis encoder)."""
    result = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", "-ac", str(channels),
         "-c:a", "libvorbis", "-q:a", "4", "-f", "ogg", "pipe:1"],
        input=wav_bytes(samples, rate), capture_output=True, check=True,
    )
    return result.stdout


def wav_header_only(*, channels: int, rate: int, bits: int = 16, data: bytes = b"\0\0" * 64) -> bytes:
    """A WAV file with whatever header fields a test wants, however absurd."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mix(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32)
