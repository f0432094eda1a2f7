"""Decoding a batch while the next is read and encoded (scan): asr.ahead and AsrOptions.overlap."""

import threading
from dataclasses import replace

import numpy as np
import pytest

from asr.ahead import AheadEncoder
from asr.batch_decode import ChunkResult, DecodeOptions, RawSegment
from asr.transcriber import AsrOptions, Transcriber
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window

SR = SAMPLE_RATE


class _GatedEncode:
    """A stand-in encoder: each row is the input's first sample; the first call waits for `gate`."""

    def __init__(self):
        self.gate, self.calls = threading.Event(), []

    def __call__(self, chunks):
        self.calls.append([float(c[0]) for c in chunks])
        if len(self.calls) == 1:
            assert self.gate.wait(5)
        return np.array([[c[0]] for c in chunks])


def _inputs(n):
    return [np.full(4, float(k), np.float32) for k in range(n)]


def _wait_for(cond, seconds=5.0):
    for _ in range(int(seconds / 0.01)):
        if cond():
            return True
        threading.Event().wait(0.01)
    return False


@pytest.mark.parametrize("decoding", [False, True])
def test_ahead_encodes_queued_inputs_on_every_replica_unless_a_decode_holds_one(decoding):
    encode = _GatedEncode()
    ahead = AheadEncoder(encode, replicas=2)
    a, b, c, d = _inputs(4)
    ahead.put(a)  # started at once, held at the gate
    assert _wait_for(lambda: encode.calls)
    for x in (b, c, d):
        ahead.put(x)
    if decoding:
        with ahead.decoding():
            encode.gate.set()
            assert _wait_for(lambda: ahead.idle())
    else:
        encode.gate.set()
        assert _wait_for(lambda: ahead.idle())
    # a decode call keeps a replica: the queue goes one input at a time; else two at once, in order
    assert encode.calls == ([[0.0], [1.0], [2.0], [3.0]] if decoding else [[0.0], [1.0, 2.0], [3.0]])
    assert [ahead.take(x).result()[0] for x in (c, a, d, b)] == [2.0, 0.0, 3.0, 1.0]
    assert ahead.take(a) is None  # taken once


def test_a_queued_input_is_handed_back_to_the_decode_call_and_never_encoded_twice():
    encode = _GatedEncode()
    ahead = AheadEncoder(encode, replicas=1)
    a, b = _inputs(2)
    ahead.put(a)
    assert _wait_for(lambda: encode.calls)
    ahead.put(b)
    assert ahead.take(b.copy()) is None  # still queued: withdrawn, the caller encodes it with its batch
    unknown = np.full(4, 9.0, np.float32)
    assert ahead.take(unknown) is None
    encode.gate.set()
    assert ahead.take(a).result()[0] == 0.0
    assert _wait_for(lambda: ahead.idle())
    assert encode.calls == [[0.0]]


def test_an_encode_error_reaches_the_decode_call_that_takes_it():
    def fail(chunks):
        raise RuntimeError("encoder broke")

    ahead = AheadEncoder(fail, replicas=2)
    a = _inputs(1)[0]
    ahead.put(a)
    assert _wait_for(lambda: ahead.idle())
    with pytest.raises(RuntimeError, match="encoder broke"):
        ahead.take(a).result()


def test_only_the_last_inputs_announced_are_kept():
    encode = _GatedEncode()
    ahead = AheadEncoder(encode, replicas=1, keep=2)
    a, b, c, d = _inputs(4)
    ahead.put(a)
    assert _wait_for(lambda: encode.calls)
    for x in (b, c, d):
        ahead.put(x)
    encode.gate.set()
    assert _wait_for(lambda: ahead.idle())
    assert ahead.take(a) is None and ahead.take(b) is None  # dropped; b was never encoded
    assert [ahead.take(x).result()[0] for x in (c, d)] == [2.0, 3.0]
    assert [0.0] in encode.calls and not any(1.0 in call for call in encode.calls)


class _Vad:
    def spans(self, audio):
        return [(SR, len(audio) - SR)]


class _SlowEngine:
    """Each decode call waits (up to 1.5 s) until the windows after its batch are being read, and
    records whether they were: only an overlapped transcriber reads on while a batch decodes."""
    model_id, device = "fake", "cpu"

    def __init__(self, fail_at: int | None = None):
        self.read, self.overlapped, self.fail_at = [], [], fail_at
        self.more = threading.Condition()

    def reading(self, windows):
        for w in windows:
            with self.more:
                self.read.append(w.index)
                self.more.notify_all()
            yield w

    def decode(self, chunks, opts):
        first = len(self.overlapped)
        if first == self.fail_at:
            raise RuntimeError("decoder broke")
        with self.more:
            seen = self.more.wait_for(lambda: len(self.read) > first + 1, timeout=1.5)
        self.overlapped.append(seen)
        return [ChunkResult("en", [RawSegment(0.0, len(c) / SR, f"w{first}")], -0.2, 0.0, 1.0, 0.0) for c in chunks]


def _windows(n):
    rng = np.random.default_rng(0)
    return [Window("s", k, 10.0 * k, rng.normal(0, 0.1, 10 * SR).astype(np.float32)) for k in range(n)]


def test_overlap_reads_the_next_batch_while_one_decodes_and_keeps_the_order():
    opts = AsrOptions(batch_size=1, decode=DecodeOptions(fallback_temperatures=()))
    results = {}
    for overlap in (False, True):
        engine = _SlowEngine()
        t = Transcriber(engine, replace(opts, overlap=overlap), vad=_Vad())
        out = list(t.transcribe(engine.reading(_windows(4))))
        results[overlap] = [(wt.window.index, [(s.t0, s.t1, s.text) for s in wt.segments]) for wt in out]
        # every batch but the last saw the next window read while it decoded, with overlap only
        assert engine.overlapped[:-1] == [overlap] * 3, engine.overlapped
    assert results[True] == results[False]
    assert [k for k, _ in results[True]] == [0, 1, 2, 3]


def test_a_decode_error_in_the_helper_thread_is_raised_by_transcribe():
    engine = _SlowEngine(fail_at=1)
    t = Transcriber(engine, AsrOptions(batch_size=1, overlap=True,
                                       decode=DecodeOptions(fallback_temperatures=())), vad=_Vad())
    got = []
    with pytest.raises(RuntimeError, match="decoder broke"):
        for wt in t.transcribe(engine.reading(_windows(4))):
            got.append(wt.window.index)
    assert got == [0]
    assert not any(th.name.startswith("asr-decode") for th in threading.enumerate())
