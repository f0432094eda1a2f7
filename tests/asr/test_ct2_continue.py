"""CT2Whisper's continuation when Whisper stops short, on a scripted model (no weights): the
rest of the chunk is decoded from the same encoder output with the row's own tokens as prompt."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("ctranslate2")

from asr.batch_decode import DecodeOptions  # noqa: E402
from asr.ct2_engine import CT2Whisper  # noqa: E402


class ScriptedModel:
    """Answers generate() from a table: prompt (as a tuple) -> tokens after the SOT sequence."""

    def __init__(self, table):
        self.table, self.prompts = table, []

    def generate(self, features, prompts, **kw):
        out = []
        for p in prompts:
            self.prompts.append(list(p))
            seq = self.table[tuple(p)]
            out.append(SimpleNamespace(sequences_ids=[seq], scores=[-0.2], no_speech_prob=0.01))
        return out


def _engine(table):
    import ctranslate2
    from whisper.tokenizer import get_tokenizer

    eng = object.__new__(CT2Whisper)
    eng.model, eng.model_id, eng.device = ScriptedModel(table), "scripted", "cpu"
    eng.tokenizer = get_tokenizer(True, task="transcribe")
    eng._sv, eng._ct2 = ctranslate2.StorageView, ctranslate2
    return eng


def _words(tok, text):
    return tok.encode(" " + text)


def test_a_row_that_stops_short_is_continued_from_its_own_tokens():
    from whisper.tokenizer import get_tokenizer

    tok = get_tokenizer(True, task="transcribe")
    ts = lambda s: tok.timestamp_begin + int(round(s / 0.02))  # noqa: E731
    sot = (tok.sot, tok.special_tokens["<|en|>"], tok.special_tokens["<|transcribe|>"])
    one = [ts(0.0), *_words(tok, "Welcome everyone."), ts(1.5)]
    two = [ts(1.5), *_words(tok, "This tea cures diabetes."), ts(3.0), ts(3.0)]  # opened a segment, stopped
    rest = [*_words(tok, "Buy it now."), ts(4.5)]
    # the prompt is the last closed segment and the open timestamp, not the whole transcript
    eng = _engine({sot: one + two, sot + tuple(two): two + rest})
    encoded = np.zeros((1, 1500, 512), np.float32)
    (r,) = eng._decode_encoded([np.zeros(6 * 16000, np.float32)], encoded, ["en"], DecodeOptions())
    assert [(s.start, s.end, s.text) for s in r.segments] == [(0.0, 1.5, "Welcome everyone."),
                                                               (1.5, 3.0, "This tea cures diabetes."),
                                                               (3.0, 4.5, "Buy it now.")]
    assert r.resume_at is None
    assert eng.model.prompts[1] == list(sot) + two


def test_a_continuation_that_adds_nothing_keeps_the_stop_for_the_transcriber():
    from whisper.tokenizer import get_tokenizer

    tok = get_tokenizer(True, task="transcribe")
    ts = lambda s: tok.timestamp_begin + int(round(s / 0.02))  # noqa: E731
    sot = (tok.sot, tok.special_tokens["<|en|>"], tok.special_tokens["<|transcribe|>"])
    first = [ts(0.0), *_words(tok, "Only three left."), ts(2.0), ts(2.0)]
    eng = _engine({sot: first, sot + tuple(first): first})
    (r,) = eng._decode_encoded([np.zeros(6 * 16000, np.float32)], np.zeros((1, 1500, 512), np.float32), ["en"],
                               DecodeOptions())
    assert [s.text for s in r.segments] == ["Only three left."]
    assert r.resume_at == 2.0  # the transcriber decodes the rest of the chunk itself
    assert len(eng.model.prompts) == 2  # one try, not a loop
