"""Decode stage: container bytes in, mono PCM at a chosen rate out.

FFmpeg (through PyAV, in process) reads every common container (WAV, FLAC,
Ogg Vorbis/Opus, MP3, AAC) and resamples with swresample set up as `fpcalc`
sets it (Chromaprint's "compatible mode": filter size 16, phase shift 8,
linear interpolation, cutoff 0.8), so the codes are fpcalc's and decoding
costs about what Chromaprint's own tool pays. Decoders hand out small frames
(an Ogg Vorbis frame is 128-1024 samples, ~250,000 of them in 45 minutes),
so the per-frame work stays in C: each frame goes into an FFmpeg sample FIFO
and the resampler runs once per ~3 s block of it (measured on the foundation
benchmark's 16 Oggs: with a resampler call per frame, decode + fingerprint
took ~1.5x the CPU time it takes now).
Limits are checked while decoding: a 10-hour file is refused after its
first `max_seconds`, not after it has been expanded in memory. A stereo
block whose channels are anti-correlated (one channel inverted, which the
channels' sum would cancel to silence) has its second channel flipped first.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from fingerprints.errors import AudioLimitExceeded, InvalidAudio

MAX_CHANNELS = 32
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
SILENCE_PEAK = 10 ** (-60 / 20)
"""Peak amplitude below -60 dBFS is treated as silence."""

_TRUNCATION_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class Audio:
    """Mono float32 PCM in [-1, 1] at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int
    source_channels: int
    source_sample_rate: int
    codec: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(data: bytes, *, sample_rate: int, max_seconds: float,
           on_samples: Callable[[np.ndarray], None] | None = None) -> Audio:
    """Decode `data` to mono at `sample_rate`, refusing anything unusable.

    Raises InvalidAudio for bytes that are not decodable audio, and
    AudioLimitExceeded for audio longer than `max_seconds`. `on_samples`, when
    given, sees the samples piece by piece as they are decoded (in order; their
    concatenation is `Audio.samples`), so later stages can start before the
    end; it must not keep the caller waiting. A refusal can come after pieces
    were seen.
    """
    if not data:
        raise InvalidAudio("the audio is empty (0 bytes)")
    _check_wav_length(data)
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidAudio(
            "not a recognised audio file; send WAV, FLAC, Ogg (Vorbis/Opus) or MP3"
        ) from exc
    with container:
        if not container.streams.audio:
            raise InvalidAudio("the file contains no audio stream")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        _check_format(ctx.channels, ctx.sample_rate, ctx.name)
        declared = _declared_seconds(container, stream)
        samples = _decode_stream(container, stream, sample_rate, max_seconds, on_samples)
        codec = ctx.name
        channels, source_rate = ctx.channels, ctx.sample_rate
    if samples.size == 0:
        raise InvalidAudio("the file decodes to no audio samples")
    if not np.isfinite(samples).all():
        raise InvalidAudio("the audio contains non-finite (NaN or infinite) samples")
    decoded = samples.size / sample_rate
    if declared is not None and decoded + _TRUNCATION_TOLERANCE_S < declared * 0.98:
        raise InvalidAudio(
            f"the file is truncated: its header declares {declared:.1f} s "
            f"but only {decoded:.1f} s can be decoded"
        )
    return Audio(samples, sample_rate, channels, source_rate, codec)


def is_silent(audio: Audio) -> bool:
    return float(np.max(np.abs(audio.samples))) < SILENCE_PEAK


def _check_format(channels: int, rate: int, codec: str) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidAudio(
            f"unsupported channel count {channels}; 1 to {MAX_CHANNELS} channels are accepted"
        )
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidAudio(
            f"unsupported sample rate {rate} Hz; {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz are accepted"
        )
    if codec is None:
        raise InvalidAudio("the audio codec is not supported")


def _check_wav_length(data: bytes) -> None:
    """FFmpeg trims a WAV's declared length to the bytes present, so a cut-off WAV is caught here."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"data":
            present = len(data) - pos - 8
            if size not in (0, 0xFFFFFFFF) and present < size:
                raise InvalidAudio(
                    f"the file is truncated: its header declares {size} bytes of audio but only {present} are present"
                )
            return
        pos += 8 + size + (size & 1)


def _declared_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    sample_rate: int,
    max_seconds: float,
    on_samples: Callable[[np.ndarray], None] | None,
) -> np.ndarray:
    limit = int(max_seconds * sample_rate)
    too_long = f"the audio is longer than the {max_seconds:.0f} s limit; send a shorter track"
    out = _Resampled(sample_rate, on_samples)
    fifo: av.AudioFifo | None = None
    shape = None
    try:
        for frame in container.decode(stream):
            frame.pts = None
            current = (frame.format.name, frame.layout.name, frame.sample_rate)
            if current != shape:
                # Some streams change layout or rate mid-stream (MP3 frames may switch between mono and
                # stereo); a FIFO holds one format, so the block so far is resampled first.
                _check_format(frame.layout.nb_channels, frame.sample_rate, frame.format.name)
                if fifo is not None:
                    out.feed(fifo.read(), flush=True)
                fifo, shape = av.AudioFifo(), current
            fifo.write(frame)
            if fifo.samples >= _BLOCK_SAMPLES:
                out.feed(fifo.read())
                if out.total > limit:
                    raise AudioLimitExceeded(too_long)
        if fifo is not None:
            out.feed(fifo.read(), flush=True)
    except av.error.FFmpegError as exc:
        raise InvalidAudio(f"the audio stream is corrupt and cannot be decoded ({exc.strerror})") from exc
    if out.total > limit:
        raise AudioLimitExceeded(too_long)
    return out.samples()


_BLOCK_SAMPLES = 1 << 17
"""Source samples per resampler call (~3 s at 44.1 kHz, 1 MiB of stereo float)."""

_FPCALC_SWR = {"filter_size": "16", "phase_shift": "8", "linear_interp": "1", "cutoff": "0.8"}
"""libswresample options of Chromaprint's FFmpegAudioProcessor::SetCompatibleMode, which fpcalc uses."""


def _in_phase(block: av.AudioFrame) -> av.AudioFrame:
    """The block with its second channel's polarity flipped when the two channels are anti-correlated: of the
    channels' sum and difference, the downmix is the one that keeps more energy.

    Mono is the channels' sum. A stereo copy with one channel inverted sounds the same on speakers, but its
    sum cancels everything panned to the centre: the copy decoded to near-silence and escaped both
    fingerprints. Channels of real mixes are positively correlated, so those blocks pass unchanged. A
    threshold of -0.5 instead of 0 was measured: a copy whose second channel is delayed 15 ms (a comb filter
    either way) was then found 195 times of 200, against 200 (docs/landmarks.md)."""
    if block.layout.nb_channels != 2:
        return block
    data = block.to_ndarray()
    # unsigned samples (8-bit WAV) sit around the middle of their range
    zero = np.iinfo(data.dtype).max // 2 + 1 if np.issubdtype(data.dtype, np.unsignedinteger) else 0
    left, right = (data[0], data[1]) if block.format.is_planar else (data[0][0::2], data[0][1::2])
    left, right = _centred(left, zero), _centred(right, zero)
    if float(np.dot(left, right)) >= 0.0:
        return block
    flipped = data.astype(np.float64)
    second = flipped[1] if block.format.is_planar else flipped[0][1::2]
    second *= -1.0
    second += 2.0 * zero
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        flipped = np.clip(flipped, info.min, info.max)
    out = av.AudioFrame.from_ndarray(flipped.astype(data.dtype), format=block.format.name, layout=block.layout.name)
    out.sample_rate = block.sample_rate
    return out


def _centred(channel: np.ndarray, zero: int) -> np.ndarray:
    samples = channel.astype(np.float32, copy=False)
    return samples - np.float32(zero) if zero else samples


class _Resampled:
    """Mono float32 at `rate` from blocks of source frames, through one swresample context per source format."""

    def __init__(self, rate: int, on_samples: Callable[[np.ndarray], None] | None = None) -> None:
        self._rate = rate
        self._on_samples = on_samples
        self._resampler: av.AudioResampler | None = None
        self._chunks: list[np.ndarray] = []
        self.total = 0

    def feed(self, block: av.AudioFrame | None, *, flush: bool = False) -> None:
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self._rate, options=_FPCALC_SWR)
        if block is not None:
            self._keep(self._resampler.resample(_in_phase(block)))
        if flush:
            self._keep(self._resampler.resample(None))
            self._resampler = None

    def _keep(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self.total += frame.samples
            chunk = frame.to_ndarray()[0]
            self._chunks.append(chunk)
            if self._on_samples is not None and chunk.size:
                self._on_samples(chunk)

    def samples(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._chunks).astype(np.float32, copy=False)
