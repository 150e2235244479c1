"""Audio stage: PCM in, the predominant (lead) melody as notes, plus beats and bars (librosa + NumPy).

A Melodia-style pipeline (Salamon and Gomez 2012), simplified:
 1. STFT (512-point frames, 46 ms as Melodia's, and an 11.6 ms hop at 11.025 kHz): short enough that a fast
    tune's notes (a reel's quavers, ~0.1 s; its semiquavers, ~60 ms) have frames of their own. Keep spectral
    peaks within 40 dB of the frame's loudest (the sinusoids; noise and the valleys between partials are
    dropped), each at its frequency between bins (a parabola through the log magnitudes), so the short
    window's coarse bins (21.5 Hz) do not blur pitch;
 2. harmonic summation: every peak votes for the f0 candidates it could be harmonic 1..10 of, weighted by
    0.8^(h-1) and a cos^2 window one semitone wide, on a 20-cent grid from 110 Hz to 1.76 kHz. A melody
    note collects all its partials; a chord's notes each collect only their own, so the lead stands out
    even at the same level as the accompaniment;
 3. Viterbi contour tracking over that grid: small moves cost little, a jump (a new note) a fixed amount,
    so the path follows one voice instead of flickering between the loudest partials; each pitch weighs its
    salience plus its rise over the last 23 ms, so a note is followed from its attack, not from where the
    note before has died away;
 4. voicing: a frame is melody when its salience is a good fraction of the melody's typical salience over
    the surrounding 2.5 s (so a quiet passage keeps its melody) and it sits in a stable stretch (a note), not
    in a glide or noise;
 5. notes: stable stretches (within 60 cents of their median for >= 40 ms), split again at re-articulations
    (a dip in salience at constant pitch); pitch = median, confidence = mean relative salience;
 6. beats from librosa's tracker on a mel onset envelope; note onsets are expressed in beats by
    interpolating between beat times, and bars are groups of 3 or 4 beats (whichever makes the strongest
    accents fall on downbeats).
 7. harmonic (octave / twelfth) errors of instruments with weak fundamentals are corrected per note: a
    lower reading is taken when the spectrum has partials only it explains and it turns leaps into steps;
    the frame-level pitch (`Extraction.f0`, `pitch_track`) carries the same corrections.
Audio with no melody (silence, drums, noise, speech) is refused with NoMelodyFound: too few stable pitched
notes, or notes neither held nor sharing one tuning.

Sample rate: any; the signal is resampled to 11,025 Hz, what the service decodes for Chromaprint, so a
screening never resamples. Only partials up to 5 kHz are used: analysed at 22,050 Hz, raw pitch accuracy at
0 dB accompaniment was the same (docs/benchmarks.md). Memory: the spectrum is
analysed in ~24 s blocks and the tempo over 30 s stretches, so the peak grows only with the salience and
Viterbi arrays: measured (tracemalloc) 67 MiB for 2 minutes, 254 MiB for 8 minutes (~31 MiB a minute).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numba
import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.sparse

from fingerprints.framing import Blocks, frames_of
from fingerprints.melody.errors import NoMelodyFound
from fingerprints.melody.notes import Melody

SAMPLE_RATE = 11_025
N_FFT = 512
PEAK_STEPS = 4
"""Positions per FFT bin at which a spectral peak's interpolated frequency votes (5.4 Hz apart)."""
HOP = 128
FMIN = 110.0
FMAX = 1760.0
BINS_PER_SEMITONE = 5
HARMONICS = 10
HARMONIC_DECAY = 0.8
PEAK_RANGE_DB = 40.0
MAX_PARTIAL_HZ = 5000.0
COMPRESS = 1.0
JUMP_COST = 3.0
"""Viterbi: cost (in log-salience units) of a move larger than MOVE_BINS. A note is tracked only if its advantage
over its frames pays for the jumps into and out of it: a higher cost skips a fast tune's short notes, a lower one
follows the accompaniment for a moment more often (docs/melody.md). Where a change falls does not depend on it:
the path pays it once wherever the change is."""
MOVE_BINS = 3
HEIGHT_BONUS = 0.5
"""Log-salience bonus across the range, favouring the upper voice (melodies sit above their accompaniment)."""
RISE_WEIGHT = 1.0
"""The contour weighs a pitch's salience plus this times its rise over RISE_FRAMES (23 ms, half a window). At a
note change the new note's attack is still quieter than the old note's release, so on salience alone the path
kept the old pitch for the first 20-40 ms of every note (docs/melody.md); a rising pitch is a note beginning."""
RISE_FRAMES = 2
VOICING_RATIO = 0.25
"""A frame is voiced when its path salience is at least this fraction of the melody's loudness around it (the 90th
percentile of the path salience over LOUDNESS_WINDOW_S)."""
LOUDNESS_WINDOW_S = 2.5
"""The stretch (about a phrase) over which the melody's loudness is judged. Over the whole track, a quotation
in a passage 12 dB quieter than the rest (a quiet verse, an intro) fell below VOICING_RATIO and was not
transcribed at all; windows of 8 and 4 s still reached into the loud bars around it (docs/melody.md)."""
QUIET_FLOOR_DB = 30.0
"""Never melody: stretches this far below the track's loud parts (fade-outs, reverb tails, near-silence)."""
STABLE_CENTS = 60.0
MIN_NOTE_S = 0.04
SPLIT_DIP = 0.55
"""Re-articulation: salience falls below this fraction of the note's running peak, then recovers."""
MIN_MELODY_NOTES = 8
MIN_MELODY_SECONDS = 2.0
MIN_STABLE_SHARE = 0.5
"""Of the time the tracker calls voiced, at least this share must lie in held notes (drum hits and speech
syllables give short, unstable 'notes')."""
LONG_NOTE_S = 0.12
"""A held note lasts this long and its pitch line moves less than STABLE_CENTS from its start to its end. A
note is a stretch within STABLE_CENTS of its running median, so a slow glide (a spoken vowel's pitch falling
over 200 ms) passes as a note; a held note must also stay put (docs/melody.md, "Speech")."""
TUNED = 6.9
"""Notes that are not held (a fast tune's are rarely held LONG_NOTE_S) are a melody when they share one tuning:
the Rayleigh statistic of their pitches' cents (n R^2) reaches this, which uniformly spread cents (speech's
syllables) reach by chance with probability exp(-6.9) = 0.001. Whatever the tuning of the whole: a copy detuned
by a quarter tone shares its own. Not asked of held notes: asked of them (n R^2 >= 3), it refused most
performances whose notes strayed by a 0.3-semitone spread, amateur singing's (docs/melody.md)."""
MIN_HARMONICITY = 0.2
FRAME_HARMONICITY = 0.12


@dataclass(frozen=True)
class Extraction:
    """Everything the stage found; `melody` is what matching uses."""

    melody: Melody
    times: np.ndarray       # frame times (s)
    f0: np.ndarray          # Hz on every frame: the tracked path, with its notes' harmonic errors corrected
    voiced: np.ndarray      # bool per frame
    beats: np.ndarray       # beat times (s)
    tempo: float            # beats a minute
    beats_per_bar: int
    downbeat: int           # index of the first downbeat in `beats`


_CACHE: dict = {}


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f0 grid (Hz), harmonic weights (peak positions, PEAK_STEPS per FFT bin, x f0 bins; dense: a sparse
    spectrum times a dense matrix is the fastest product), mel filters."""
    if "grid" in _CACHE:
        return _CACHE["grid"]
    n_bins = int(round(12 * BINS_PER_SEMITONE * np.log2(FMAX / FMIN))) + 1
    f0 = FMIN * 2.0 ** (np.arange(n_bins) / (12 * BINS_PER_SEMITONE))
    freqs = np.arange((N_FFT // 2 + 1) * PEAK_STEPS) * SAMPLE_RATE / (N_FFT * PEAK_STEPS)
    keep = np.flatnonzero((freqs >= FMIN * 0.9) & (freqs <= MAX_PARTIAL_HZ))
    rows, cols, vals = [], [], []
    for h in range(1, HARMONICS + 1):
        # distance in semitones between each kept FFT bin and h * f0
        d = 12 * np.log2(freqs[keep][None, :] / (h * f0[:, None]))
        r, c = np.nonzero(np.abs(d) < 1.0)
        rows.append(r)
        cols.append(keep[c])
        vals.append(HARMONIC_DECAY ** (h - 1) * np.cos(0.5 * np.pi * d[r, c]) ** 2)
    m = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(n_bins, len(freqs))).T.toarray().astype(np.float32)
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=64)
    _CACHE["grid"] = (f0, m, mel)
    return _CACHE["grid"]


TEMPO_CHUNK_S = 30.0
BLOCK_FRAMES = 2048
"""Frames (~24 s) per block of the spectral analysis, so memory stays bounded for long tracks."""


def salience(samples: np.ndarray):
    """Harmonic-sum salience (frames x f0 bins), the mel power spectrogram (for onsets), frame times, each
    frame's total peak magnitude in the partial band (to tell how much of it one harmonic comb explains), the
    spectral peaks themselves (sparse, FFT bins x frames) and the Viterbi contour (Contour) over the
    salience, of a whole signal: Spectra fed it at once."""
    spectra = Spectra()
    spectra.feed(samples)
    return spectra.finish()


class Spectra:
    """The spectral analysis behind `salience`, computed BLOCK_FRAMES frames at a time as the samples arrive
    (framing.Blocks, centred frames), so a track fed while it is being decoded is mostly analysed by the time
    its last samples are in; identical to one STFT over the whole signal whatever the pieces. Each block's
    salience goes on to the contour's forward pass (Contour) at once. Also keeps what extraction checks of the
    whole signal (length, finiteness, peak)."""

    def __init__(self) -> None:
        self._blocks = Blocks(N_FFT, HOP, BLOCK_FRAMES, pad=N_FFT // 2)
        self.peak = 0.0
        self.finite = True
        self._sal: list[np.ndarray] = []
        self._power: list[np.ndarray] = []
        self._total: list[np.ndarray] = []
        self._peaks: list[scipy.sparse.csc_matrix] = []
        self._contour = Contour()

    @property
    def samples(self) -> int:
        return self._blocks.samples

    def feed(self, samples: np.ndarray) -> None:
        s = np.asarray(samples, dtype=np.float32).ravel()
        if not s.size or not self.finite:
            return
        if not np.isfinite(s).all():
            self.finite = False  # extraction refuses it; nothing more is worth computing
            return
        self.peak = max(self.peak, float(np.max(np.abs(s))))
        for segment in self._blocks.feed(s):
            self._analyse(segment)

    def finish(self):
        """(salience, mel power, frame times, peak totals, peaks, contour path) as `salience` returns them."""
        for segment in self._blocks.finish():
            self._analyse(segment)
        sal = np.vstack(self._sal).astype(np.float64)
        power = np.hstack(self._power)
        total = np.concatenate(self._total)
        peaks = scipy.sparse.hstack(self._peaks).tocsc()
        times = librosa.frames_to_time(np.arange(self._blocks.frames), sr=SAMPLE_RATE, hop_length=HOP)
        return sal, power, times, total, peaks, self._contour.finish()

    def _analyse(self, segment: np.ndarray) -> None:
        _, m, mel = _grid()
        spec = _magnitudes(segment)
        inner = spec[:, 1:-1]
        is_peak = (inner > spec[:, :-2]) & (inner >= spec[:, 2:])
        floor = spec.max(axis=1, keepdims=True) * 10 ** (-PEAK_RANGE_DB / 20)
        is_peak &= inner > floor
        # frame-major, so the peaks come out in CSC order (by frame) without a transposed copy
        frame, row = np.divmod(np.flatnonzero(is_peak), is_peak.shape[1])
        value = inner[frame, row] ** COMPRESS
        indptr = np.concatenate([[0], np.cumsum(np.bincount(frame, minlength=spec.shape[0]))])
        sparse_peak = scipy.sparse.csc_matrix((value, row + 1, indptr), shape=spec.shape[::-1])
        position = _peak_positions(spec, frame, row + 1)
        self._sal.append(scipy.sparse.csc_matrix((value, position, indptr), shape=(m.shape[0], spec.shape[0])).T @ m)
        self._contour.feed(self._sal[-1].astype(np.float64))
        self._power.append((np.square(spec) @ mel.T).T)
        self._total.append(np.bincount(frame, weights=value * _band()[row + 1], minlength=spec.shape[0]))
        self._peaks.append(sparse_peak)


def _peak_positions(spec: np.ndarray, frame: np.ndarray, peak_bin: np.ndarray) -> np.ndarray:
    """Each spectral peak's frequency, in PEAK_STEPS per bin: the vertex of the parabola through the log magnitudes
    of its bin and the two beside it (within half a bin of the peak's)."""
    a, b, c = (np.log(spec[frame, peak_bin + k] + 1e-9) for k in (-1, 0, 1))
    den = a - 2 * b + c
    offset = np.clip(np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0), -0.5, 0.5)
    return np.round((peak_bin + offset) * PEAK_STEPS).astype(np.int64)


def _magnitudes(seg: np.ndarray) -> np.ndarray:
    """|STFT| (frames x FFT bins, float32) of uncentred Hann frames: librosa.stft(center=False), transposed,
    to within float32 rounding, at two thirds of its cost."""
    return np.abs(scipy.fft.rfft(frames_of(seg, N_FFT, HOP) * _window(), axis=1, workers=1))


def _window() -> np.ndarray:
    if "window" not in _CACHE:
        _CACHE["window"] = librosa.filters.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    return _CACHE["window"]


def _band() -> np.ndarray:
    if "band" not in _CACHE:
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
        _CACHE["band"] = (freqs >= FMIN * 0.9) & (freqs <= MAX_PARTIAL_HZ)
    return _CACHE["band"]


@numba.njit(cache=True, nogil=True)
def _forward(obs: np.ndarray, score: np.ndarray, back: np.ndarray, first: int, move: int, jump: float) -> None:
    """The Viterbi forward pass over frames first.. of `obs`, continuing from `score` (updated in place);
    back pointers go into `back`."""
    t_n, b_n = obs.shape
    new = np.empty(b_n)
    for t in range(first, t_n):
        best_all = 0
        for b in range(1, b_n):
            if score[b] > score[best_all]:
                best_all = b
        far = score[best_all] - jump
        for b in range(b_n):
            bb = b
            bv = score[b]
            lo = max(0, b - move)
            hi = min(b_n - 1, b + move)
            for c in range(lo, hi + 1):
                v = score[c] - 0.1 * abs(c - b)
                if v > bv:
                    bv = v
                    bb = c
            if far > bv:
                bv = far
                bb = best_all
            new[b] = bv + obs[t, b]
            back[t, b] = bb
        score[:] = new


@numba.njit(cache=True, nogil=True)
def _backtrace(back: np.ndarray, score: np.ndarray) -> np.ndarray:
    t_n = back.shape[0]
    path = np.empty(t_n, dtype=np.int32)
    path[-1] = int(np.argmax(score))
    for t in range(t_n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


class Contour:
    """Viterbi contour tracking over the salience, fed a block of frames at a time: the forward pass runs as
    the blocks are analysed (while a track is still being decoded), only the backtrace once all are in. The
    path is the one a single pass over the whole salience finds (same operations, same order)."""

    def __init__(self) -> None:
        self._score: np.ndarray | None = None
        self._back: list[np.ndarray] = []
        self._recent: np.ndarray | None = None  # the last RISE_FRAMES frames' salience, for the next block's rise

    def feed(self, sal: np.ndarray) -> None:
        """The next frames' salience (frames x f0 bins, float64, as `Spectra.finish` returns it)."""
        if not len(sal):
            return
        top = sal.max(axis=1, keepdims=True)
        if self._recent is None:
            self._recent = np.repeat(sal[:1], RISE_FRAMES, axis=0)
        before = np.vstack([self._recent, sal])
        self._recent = before[-RISE_FRAMES:]
        rising = sal + RISE_WEIGHT * np.maximum(sal - before[:len(sal)], 0.0)
        rel = (rising / np.maximum(top, 1e-12)).astype(np.float32)  # float32: numpy's log is ~8x faster
        height = (HEIGHT_BONUS * np.linspace(0.0, 1.0, sal.shape[1])[None, :]).astype(np.float32)
        obs = np.log(rel + np.float32(0.02)) + height
        back = np.zeros(obs.shape, dtype=np.int32)
        first = 0
        if self._score is None:
            self._score = obs[0].astype(np.float64)
            first = 1
        _forward(obs, self._score, back, first, MOVE_BINS, JUMP_COST)
        self._back.append(back)

    def finish(self) -> np.ndarray:
        """The path: an f0 bin per frame."""
        if self._score is None:
            return np.zeros(0, dtype=np.int32)
        return _backtrace(np.vstack(self._back), self._score)


def extract(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Extraction:
    """The lead melody of a (possibly polyphonic) recording; NoMelodyFound when there is none."""
    if sample_rate != SAMPLE_RATE:
        samples = librosa.resample(np.asarray(samples, dtype=np.float32), orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    extractor = Extractor()
    extractor.feed(samples)
    return extractor.finish()


class Extractor:
    """`extract` for a recording that arrives in pieces at SAMPLE_RATE (as the service decodes it): the
    spectral analysis, about half the work, runs as the pieces come (Spectra); the rest once all are in.
    The result is the one `extract` gives for the whole recording."""

    def __init__(self) -> None:
        self._spectra = Spectra()

    def feed(self, samples: np.ndarray) -> None:
        self._spectra.feed(samples)

    def finish(self) -> Extraction:
        s = self._spectra
        if s.samples < N_FFT or not s.finite or s.peak < 1e-3:
            raise NoMelodyFound("no melody found: the audio is silent or too short")
        return _extraction(*s.finish())


@dataclass(frozen=True)
class _Transcription:
    notes: list[tuple]      # (first frame, end frame, MIDI pitch, confidence), harmonic errors corrected
    contour: np.ndarray     # MIDI pitch on every frame: the path, with each note's correction applied to its frames
    voiced: np.ndarray
    harmonic: float


def _transcribe(sal: np.ndarray, times: np.ndarray, total: np.ndarray, peaks, path: np.ndarray) -> _Transcription:
    f0_grid, _, _ = _grid()
    path_sal = sal[np.arange(len(path)), path]
    loud = _loudness(path_sal)
    voiced, harmonic = _voicing(path_sal, total, loud)
    midi = 12 * np.log2(f0_grid[path] / 440.0) + 69 + _refine(sal, path) / BINS_PER_SEMITONE
    tracked = _segment(midi, path_sal / loud, voiced, times)
    notes = _fix_octaves(tracked, peaks)
    contour = midi.copy()
    for (lo, hi, before, _), (_, _, after, _) in zip(tracked, notes):
        contour[lo:hi] += after - before
    return _Transcription(notes, contour, voiced, harmonic)


def _extraction(sal: np.ndarray, power: np.ndarray, times: np.ndarray, total: np.ndarray, peaks,
                path: np.ndarray) -> Extraction:
    t = _transcribe(sal, times, total, peaks, path)
    notes, voiced, harmonic = t.notes, t.voiced, t.harmonic
    durations = np.array([(hi - lo) * HOP / SAMPLE_RATE for lo, hi, _, _ in notes]) if notes else np.zeros(0)
    glides = _glides(t.contour, np.array([lo for lo, _, _, _ in notes], dtype=np.int64),
                     np.array([hi for _, hi, _, _ in notes], dtype=np.int64))
    long_seconds = float(durations[(durations >= LONG_NOTE_S) & (glides < STABLE_CENTS)].sum())
    voiced_seconds = float(voiced.sum()) * HOP / SAMPLE_RATE
    held = long_seconds >= MIN_MELODY_SECONDS and long_seconds >= MIN_STABLE_SHARE * voiced_seconds
    pitch = np.array([p for _, _, p, _ in notes])
    tuning = _tuning_statistic(pitch)
    tuned = tuning >= TUNED and float(durations.sum()) >= MIN_MELODY_SECONDS
    if harmonic < MIN_HARMONICITY or len(notes) < MIN_MELODY_NOTES or not (held or tuned):
        raise NoMelodyFound(
            f"no melody found: harmonicity {harmonic:.2f} (a melody needs >= {MIN_HARMONICITY}), "
            f"{len(notes)} pitched notes, {long_seconds:.1f} s of them held >= {1000 * LONG_NOTE_S:.0f} ms "
            f"at a steady pitch (a melody needs half its voiced time, {voiced_seconds:.1f} s, in such notes), "
            f"their tuning statistic {tuning:.1f} (notes that are not held must share one tuning: >= {TUNED})"
        )
    beats, tempo, per_bar, downbeat, onset_env = _beats(power, times)
    start = np.array([times[lo] for lo, _, _, _ in notes])
    end = np.array([times[hi - 1] + HOP / SAMPLE_RATE for _, hi, _, _ in notes])
    beat_pos = _to_beats(start, beats, tempo)
    end_pos = _to_beats(end, beats, tempo)
    conf = np.clip(np.array([c for _, _, _, c in notes]), 0, 1).astype(np.float32)
    bar = (np.floor((beat_pos - downbeat) / per_bar) + 1).astype(np.int32)
    phase = np.mod(beat_pos - downbeat, per_bar)
    metric = np.where(np.abs(phase) < 0.12, 1.0, np.where(np.abs(phase - np.round(phase)) < 0.12, 0.5, 0.25))
    duration = np.maximum(end_pos - beat_pos, 1e-3)
    melody = Melody(pitch, beat_pos, duration, start, end, bar, conf, metric.astype(np.float32),
                    f"audio: predominant melody (harmonic salience + Viterbi), {len(notes)} notes, "
                    f"{tempo:.0f} bpm, {per_bar} beats a bar")
    return Extraction(melody, times, librosa.midi_to_hz(t.contour), voiced, beats, tempo, per_bar, downbeat)


def pitch_track(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame times, f0 (Hz) on every frame as `extract` reads it, voicing: for raw pitch accuracy, also of
    audio that `extract` would refuse."""
    if sample_rate != SAMPLE_RATE:
        samples = librosa.resample(np.asarray(samples, dtype=np.float32), orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    sal, _, times, total, peaks, path = salience(np.asarray(samples, dtype=np.float32))
    t = _transcribe(sal, times, total, peaks, path)
    return times, librosa.midi_to_hz(t.contour), t.voiced


def _glides(contour: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per note (frames lo..hi-1 of the contour), how far its least-squares pitch line moves from its first
    frame to its last, in cents: a vibrato averages out over its cycles, a glide does not. All notes at once
    (a 3-minute track has ~500; one polyfit each took 15 ms)."""
    lens = hi - lo
    if not len(lens):
        return np.zeros(0)
    first = np.concatenate([[0], np.cumsum(lens)[:-1]])
    x = (np.arange(lens.sum()) - np.repeat(first, lens)).astype(np.float64)  # frame within its note
    y = contour[np.repeat(lo, lens) + x.astype(np.int64)]
    sx, sxx, sy, sxy = (np.add.reduceat(v, first) for v in (x, x * x, y, x * y))
    n = lens.astype(np.float64)
    slope = (n * sxy - sx * sy) / np.maximum(n * sxx - sx * sx, 1e-12)
    return np.where(lens >= 3, np.abs(slope) * (n - 1) * 100, 0.0)


def _tuning_statistic(pitch: np.ndarray) -> float:
    """Rayleigh's n R^2 over the notes' offsets from the nearest semitone (as angles): large when they share one
    tuning, ~1 when they are spread evenly. Notes within half a semitone of FMIN are left out: a voice below the
    range is tracked at the grid's edge, which would lend it a tuning."""
    offset = pitch[pitch >= 12 * np.log2(FMIN / 440.0) + 69 + 0.5] % 1.0
    if not len(offset):
        return 0.0
    return float(np.abs(np.exp(2j * np.pi * offset).sum()) ** 2 / len(offset))


def _loudness(path_sal: np.ndarray) -> np.ndarray:
    """Per frame, the melody's loudness around it: the 90th percentile of the path salience over
    LOUDNESS_WINDOW_S, floored QUIET_FLOOR_DB below the track's."""
    size = max(1, int(round(LOUDNESS_WINDOW_S * SAMPLE_RATE / HOP)))
    local = scipy.ndimage.percentile_filter(path_sal, 90, size=size, mode="nearest")
    floor = max(float(np.percentile(path_sal, 90)), 1e-12) * 10 ** (-QUIET_FLOOR_DB / 20)
    return np.maximum(local, floor)


def _voicing(path_sal: np.ndarray, total: np.ndarray, loud: np.ndarray) -> tuple[np.ndarray, float]:
    """Voiced frames, and the track's harmonicity: the median share of a voiced frame's spectral peaks that
    the tracked pitch's harmonic comb explains (noise ~0.1, drums ~0.17, a lead over accompaniment at
    0 dB ~0.3, a lead alone 0.5-0.8; measured on renders)."""
    share = path_sal / np.maximum(total, 1e-12)
    voiced = (path_sal >= VOICING_RATIO * loud) & (share >= FRAME_HARMONICITY)
    harmonic = float(np.median(share[voiced])) if voiced.any() else 0.0
    return voiced, harmonic


def _refine(sal: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Parabolic interpolation of the salience peak around the path bin (fraction of a bin)."""
    b = np.clip(path, 1, sal.shape[1] - 2)
    t = np.arange(len(path))
    a, c, e = sal[t, b - 1], sal[t, b], sal[t, b + 1]
    den = a - 2 * c + e
    shift = np.where(den < 0, 0.5 * (a - e) / np.where(den < 0, den, -1), 0.0)
    return np.clip(shift, -0.5, 0.5) + (b - path)


HARMONIC_ERRORS = (2, 3, 5)
"""Harmonic errors a harmonic sum makes on instruments with weak fundamentals (violin, clarinet): the note
heard at its 2nd, 3rd or 5th harmonic (an octave, a twelfth, two octaves and a third too high; a clarinet's
low register, with its weak even harmonics, can lead with the 5th)."""
OCTAVE_ALTERNATIVES = tuple(-12.0 * float(np.log2(h)) for h in HARMONIC_ERRORS)
ALT_EVIDENCE = 0.3
"""A lower reading needs spectral peaks at its own harmonics that the higher reading cannot explain (those
that are not multiples of the harmonic number: odd harmonics of the octave below, ...) worth at least this
share of the energy the higher reading explains."""
ALT_COST = 2.0
STEP_COST = 0.5
"""Per semitone of melodic interval (capped at 14): melodies move mostly by step, so a reading that turns
two large leaps into steps wins unless the spectrum argues against it."""


@numba.njit(cache=True, nogil=True)
def _partial_energy(data, indices, indptr, lo, hi, f, harmonics):
    """Mean over a note's frames lo..hi-1 (columns of the CSC spectral peaks) of the (decay-weighted)
    strongest spectral peak within 3% of each h * f."""
    bin_hz = SAMPLE_RATE / N_FFT
    total = 0.0
    for h in harmonics:
        fh = h * f
        if fh > MAX_PARTIAL_HZ:
            break
        a = max(1, int(np.floor(fh * 0.97 / bin_hz)))
        b = min(N_FFT // 2, int(np.ceil(fh * 1.03 / bin_hz)))
        if b < a:
            continue
        acc = 0.0
        for c in range(lo, hi):
            strongest = 0.0
            for k in range(indptr[c], indptr[c + 1]):
                if a <= indices[k] <= b and data[k] > strongest:
                    strongest = data[k]
            acc += strongest
        total += HARMONIC_DECAY ** (h - 1) * acc / (hi - lo)
    return total


def _fix_octaves(notes: list[tuple], peak) -> list[tuple]:
    """Note-level correction of harmonic (octave, twelfth, ...) errors: a Viterbi over each note's readings
    (as tracked, or as the fundamental below it for each of HARMONIC_ERRORS), where a lower reading is
    allowed only with spectral evidence of its own and the cost is the melodic leaps it creates."""
    n = len(notes)
    if n < 3:
        return notes
    shifts = (0.0,) + OCTAVE_ALTERNATIVES
    cost = np.zeros((n, len(shifts)))
    data, indices, indptr = peak.data, peak.indices, peak.indptr
    own_harmonics = np.arange(1, 6)
    # a lower reading's own partials: those the higher reading cannot explain (not multiples of its harmonic
    # number: odd harmonics of the octave below, non-multiples of 3 below a twelfth, ...)
    alt_harmonics = [np.array([h for h in range(1, 9) if h % number]) for number in HARMONIC_ERRORS]
    for k, (lo, hi, p, _) in enumerate(notes):
        f = 440.0 * 2 ** ((p - 69) / 12)
        own = _partial_energy(data, indices, indptr, lo, hi, f, own_harmonics) + 1e-12
        for s_i, shift in enumerate(shifts[1:], start=1):
            g = f * 2 ** (shift / 12)
            if g < FMIN:
                cost[k, s_i] = np.inf
                continue
            ev = _partial_energy(data, indices, indptr, lo, hi, g, alt_harmonics[s_i - 1]) / own
            cost[k, s_i] = ALT_COST if ev >= ALT_EVIDENCE else np.inf
    pitch = np.array([p for _, _, p, _ in notes])
    cand = pitch[:, None] + np.array(shifts)[None, :]
    acc = cost[0].copy()
    back = np.zeros((n, len(shifts)), dtype=np.int64)
    for k in range(1, n):
        leap = STEP_COST * np.minimum(np.abs(cand[k][None, :] - cand[k - 1][:, None]), 14.0)
        tot = acc[:, None] + leap
        back[k] = np.argmin(tot, axis=0)
        acc = tot[back[k], np.arange(len(shifts))] + cost[k]
    state = np.zeros(n, dtype=np.int64)
    state[-1] = int(np.argmin(acc))
    for k in range(n - 1, 0, -1):
        state[k - 1] = back[k, state[k]]
    return [(lo, hi, float(cand[k, state[k]]), c) for k, (lo, hi, _, c) in enumerate(notes)]


def _segment(midi: np.ndarray, rel: np.ndarray, voiced: np.ndarray, times: np.ndarray) -> list[tuple]:
    """Stable voiced stretches -> (first frame, end frame, median MIDI pitch, confidence)."""
    min_frames = max(2, int(round(MIN_NOTE_S * SAMPLE_RATE / HOP)))
    lo, hi, pitch, conf = _stable_stretches(midi.astype(np.float64), rel.astype(np.float64), voiced.astype(np.bool_),
                                            min_frames, STABLE_CENTS, SPLIT_DIP)
    return [(int(a), int(b), float(p), float(c)) for a, b, p, c in zip(lo, hi, pitch, conf)]


@numba.njit(cache=True, nogil=True)
def _stable_stretches(midi, rel, voiced, min_frames, stable_cents, split_dip):
    n = len(midi)
    lo = np.empty(n, np.int64)
    hi = np.empty(n, np.int64)
    pitch = np.empty(n)
    conf = np.empty(n)
    vals = np.empty(n)
    count = 0
    i = 0
    while i < n:
        if not voiced[i]:
            i += 1
            continue
        j = i + 1
        ref = midi[i]
        vals[0] = midi[i]
        k = 1
        peak = rel[i]
        dipped = False
        while j < n and voiced[j]:
            if abs(midi[j] - ref) * 100 > stable_cents:
                # allow a single-frame blip
                if j + 1 < n and voiced[j + 1] and abs(midi[j + 1] - ref) * 100 <= stable_cents:
                    j += 1
                    continue
                break
            if rel[j] < split_dip * peak:
                dipped = True
            elif dipped and rel[j] > 0.9 * peak and j - i >= min_frames:
                break  # re-articulated note at the same pitch
            peak = max(peak, rel[j])
            vals[k] = midi[j]
            k += 1
            if k <= 5 or k % 4 == 0:
                ref = np.median(vals[:k])
            j += 1
        if j - i >= min_frames:
            lo[count] = i
            hi[count] = j
            pitch[count] = np.median(midi[i:j])
            conf[count] = np.mean(rel[i:j])
            count += 1
        i = j
    return lo[:count], hi[:count], pitch[:count], conf[:count]


def _beats(power: np.ndarray, times: np.ndarray):
    # n_fft: librosa shifts the envelope by half the analysis window, which it cannot see in a given S
    env = librosa.onset.onset_strength(S=librosa.power_to_db(power + 1e-10), sr=SAMPLE_RATE, hop_length=HOP,
                                       n_fft=N_FFT)
    bpm = _tempo(env)
    tempo, frames = librosa.beat.beat_track(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP, bpm=bpm,
                                            units="frames")
    tempo = float(np.atleast_1d(tempo)[0])
    if len(frames) < 4:
        period = 60.0 / tempo if tempo > 0 else 0.5
        beats = np.arange(times[0], times[-1] + period, period)
        frames = np.clip(np.round(beats / (HOP / SAMPLE_RATE)).astype(int), 0, len(env) - 1)
    beats = times[np.clip(frames, 0, len(times) - 1)]
    if tempo <= 0:
        tempo = 60.0 / float(np.median(np.diff(beats)))
    accent = env[np.clip(frames, 0, len(env) - 1)]
    best = (4, 0, -np.inf)
    for per_bar in (3, 4):
        for phase in range(per_bar):
            sel = accent[phase::per_bar]
            score = float(sel.mean() - accent.mean()) if len(sel) else -np.inf
            if score > best[2]:
                best = (per_bar, phase, score)
    return beats, tempo, best[0], best[1], env


TEMPO_STRIDE = 8
"""Frames between the tempogram's autocorrelation windows. librosa's tempo estimate averages windows at
every frame; windows ~90 ms apart, 8 s long, average to the same curve at an eighth of the cost."""


def _tempo(env: np.ndarray) -> float:
    """Beats a minute: librosa's estimate (a mean tempogram under its log-normal prior around 120 bpm) per
    30-second stretch, median of them, so a long track's tempo is the one it mostly keeps. Stretch by
    stretch, so memory does not grow with the track."""
    win = int(librosa.time_to_frames(8.0, sr=SAMPLE_RATE, hop_length=HOP))
    padded = np.pad(env, win // 2, mode="linear_ramp", end_values=0)
    window = librosa.filters.get_window("hann", win, fftbins=True)[:, None]
    chunk = int(TEMPO_CHUNK_S * SAMPLE_RATE / HOP)
    starts = range(0, max(1, len(env) - chunk // 2), chunk) if len(env) > chunk else [0]
    estimates = []
    for k in starts:
        # the window centred on frame c is padded[c:c + win]
        frames = librosa.util.frame(padded[k:min(k + chunk, len(env)) - 1 + win], frame_length=win,
                                    hop_length=TEMPO_STRIDE)
        tg = librosa.util.normalize(librosa.autocorrelate(frames * window, axis=0), axis=0)
        estimates.append(librosa.feature.tempo(tg=tg.mean(axis=1, keepdims=True), sr=SAMPLE_RATE,
                                               hop_length=HOP, aggregate=None)[0])
    return float(np.median(estimates))


def _to_beats(t: np.ndarray, beats: np.ndarray, tempo: float) -> np.ndarray:
    """Seconds -> beat numbers, linear between tracked beats and extrapolated at the tempo outside."""
    if len(beats) < 2:
        return t * tempo / 60.0
    idx = np.arange(len(beats), dtype=np.float64)
    period0 = beats[1] - beats[0]
    period1 = beats[-1] - beats[-2]
    out = np.interp(t, beats, idx)
    out = np.where(t < beats[0], (t - beats[0]) / period0, out)
    out = np.where(t > beats[-1], len(beats) - 1 + (t - beats[-1]) / period1, out)
    return out
