"""Encoder outputs computed in the background for inputs a later decode call will get.

`scan` joins consecutive windows into 30-s inputs (asr.joining); every input but a stream's last
is final as soon as the next window is read, long before its batch is decoded. The transcriber
hands each final input to `AheadEncoder.put` and goes on reading; a worker thread encodes it on a
free CTranslate2 replica (one per core, see CT2Whisper). While a batch decodes on one replica
(asr.transcriber, AsrOptions.overlap), the next batch's inputs are encoded on the other, so both
cores work: before, encoding ahead ran in the reading thread and a decoding batch left the second
core to VAD alone (636 s under music: 1.2 of 2 cores busy on average). With no decode running,
the worker encodes as many queued inputs at once as there are replicas.

A decode call `take`s the output of each of its inputs: a finished or running encode is waited
for; one still queued is handed back to the caller (None), to be encoded with the rest of its
batch at once instead of behind the queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

import numpy as np

__all__ = ["AheadEncoder", "AHEAD_MAX"]

AHEAD_MAX = 24  # inputs announced and not yet taken that are kept (3 MB of encoder output each)


class _Job:
    __slots__ = ("audio", "future", "started")

    def __init__(self, audio: np.ndarray):
        self.audio, self.future, self.started = audio, Future(), False


class AheadEncoder:
    """`encode(list of audio) -> rows` run in a daemon thread on up to `replicas` inputs at a time
    (one while a decode call holds a replica: see `decoding`)."""

    def __init__(self, encode: Callable[[list[np.ndarray]], np.ndarray], replicas: int, keep: int = AHEAD_MAX):
        self._encode = encode
        self._replicas = max(1, replicas)
        self._keep = keep
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []  # announced and not taken, oldest first
        self._queued = 0  # of them not started
        self._running = 0
        self._decoding = 0
        self._thread: threading.Thread | None = None

    def put(self, audio: np.ndarray) -> None:
        with self._cond:
            self._jobs.append(_Job(audio))
            self._queued += 1
            for job in self._jobs[:-self._keep]:  # never taken: dropped (a decode call encodes it again)
                self._forget(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="ct2-ahead", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def take(self, audio: np.ndarray) -> Future | None:
        """The encode of `audio` announced by `put` (a Future of its row), else None: never
        announced, dropped, or still queued (then it is withdrawn: the caller encodes it)."""
        with self._cond:
            for job in self._jobs:
                if len(job.audio) == len(audio) and (job.audio is audio or np.array_equal(job.audio, audio)):
                    self._forget(job)
                    return job.future if job.started else None
        return None

    def idle(self) -> bool:
        """Nothing queued or being encoded."""
        with self._cond:
            return not self._queued and not self._running

    @contextmanager
    def decoding(self) -> Iterator[None]:
        """Around a decode call: while one runs, the worker encodes one input at a time, so the
        call keeps a replica of its own."""
        with self._cond:
            self._decoding += 1
        try:
            yield
        finally:
            with self._cond:
                self._decoding -= 1

    def _forget(self, job: _Job) -> None:
        self._jobs.remove(job)
        if not job.started:
            self._queued -= 1
            job.future.cancel()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queued:
                    self._cond.wait()
                n = max(1, self._replicas - self._decoding)
                jobs = [job for job in self._jobs if not job.started][:n]
                for job in jobs:
                    job.started = True
                self._queued -= len(jobs)
                self._running = len(jobs)
            try:
                rows = self._encode([job.audio for job in jobs])
            except BaseException as exc:  # noqa: BLE001 - raised by the decode call that takes it
                for job in jobs:
                    job.future.set_exception(exc)
            else:
                for job, row in zip(jobs, rows):
                    job.future.set_result(row)
            with self._cond:
                self._running = 0
                self._cond.notify_all()

