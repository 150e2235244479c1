"""The analysis workers against the same analyses run whole, in process: streaming changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import fingerprints
from fingerprints import landmarks, melody
from guard.analysis_workers import AnalysisWorkers
from tests.audio import DEMO_RATE, encode, synth_music


@pytest.fixture(scope="module")
def workers():
    pool = AnalysisWorkers(2)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def track() -> np.ndarray:
    return fingerprints.decode(encode(synth_music(21, 30.0), DEMO_RATE, "ogg"), sample_rate=fingerprints.SAMPLE_RATE,
                               max_seconds=60).samples


def _same_melody(a: melody.Melody, b: melody.Melody) -> bool:
    return all(np.array_equal(getattr(a, name), getattr(b, name)) for name in ("pitch", "onset", "duration", "bar"))


def _streamed(workers: AnalysisWorkers, samples: np.ndarray):
    analysis = workers.start(fingerprints.SAMPLE_RATE)
    for piece in np.array_split(samples, 37):
        analysis.feed(piece)
    analysis.decoded()
    return analysis.landmark_spectrogram(samples), analysis.melody(samples, fingerprints.SAMPLE_RATE)


def test_a_streamed_track_gives_the_spectrogram_and_melody_of_the_whole(workers, track) -> None:
    spectrogram, tune = _streamed(workers, track)
    assert np.array_equal(spectrogram, landmarks.log_spectrogram(track))
    assert _same_melody(tune, melody.extract_melody(track, fingerprints.SAMPLE_RATE))


def test_what_a_killed_worker_owed_is_computed_again(workers, track) -> None:
    analysis = workers.start(fingerprints.SAMPLE_RATE)
    analysis.feed(track[: len(track) // 2])
    for pid in workers.pids():
        os.kill(pid, signal.SIGKILL)
    analysis.feed(track[len(track) // 2:])
    analysis.decoded()
    assert np.array_equal(analysis.landmark_spectrogram(track), landmarks.log_spectrogram(track))
    assert _same_melody(analysis.melody(track, fingerprints.SAMPLE_RATE),
                        melody.extract_melody(track, fingerprints.SAMPLE_RATE))
    spectrogram, tune = _streamed(workers, track)  # the replacements serve the next track
    assert np.array_equal(spectrogram, landmarks.log_spectrogram(track))


def test_a_track_that_is_not_at_the_analysis_rate_is_analysed_whole(workers, track) -> None:
    analysis = workers.start(fingerprints.SAMPLE_RATE * 2)
    analysis.feed(track)  # not streamed: nothing to hand back
    analysis.decoded()
    assert np.array_equal(analysis.landmark_spectrogram(track), landmarks.log_spectrogram(track))
    with pytest.raises(melody.NoMelodyFound):
        analysis.melody(np.zeros(1000, np.float32), fingerprints.SAMPLE_RATE)
    assert len(workers.pids()) == 2


def test_a_forkserver_that_crashes_while_warming_up_gives_an_actionable_error():
    # in a child interpreter: the crashing forkserver must not be the one the other tests' workers fork from
    script = ("from guard.analysis_workers import AnalysisWorkers, WorkersUnavailable\n"
              "try:\n    AnalysisWorkers(1, warm_up='tests.crashing_warm_up')\n"
              "except WorkersUnavailable as exc:\n    print(exc)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "died while importing tests.crashing_warm_up" in done.stdout
    assert "numba issue 10128" in done.stdout
