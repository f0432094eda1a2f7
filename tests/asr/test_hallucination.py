import pytest

from asr.chinese import to_simplified
from asr.hallucination import compression_ratio, hallucination_reason

GOOD = dict(avg_logprob=-0.3, no_speech_prob=0.05, chunk_ratio=1.2, in_speech=True)


@pytest.mark.parametrize("text", ["字幕由Amara.org社群提供", "字幕由 Amara.org 社群提供。", "請不吝點贊訂閱轉發打賞",
                                  "Thanks for watching!", "  Thank you for watching.  "])
def test_known_silence_phrases_are_marked(text):
    assert hallucination_reason(text, **GOOD) == "known_phrase"


def test_ordinary_sales_talk_passes():
    assert hallucination_reason("这个茶喝一个月血糖就降下来", **GOOD) is None
    assert hallucination_reason("Thanks for watching the demo of this blender, it has three speeds.", **GOOD) is None


def test_guards_for_silence_repetition_confidence_and_position():
    assert hallucination_reason("hello", avg_logprob=-1.5, no_speech_prob=0.9, chunk_ratio=1.0, in_speech=True) == "no_speech"
    loop = "buy now buy now " * 10
    assert compression_ratio(loop) > 2.4
    assert hallucination_reason(loop, avg_logprob=-0.2, no_speech_prob=0.0, chunk_ratio=1.0, in_speech=True) == "repetition"
    assert hallucination_reason("it cures cancer", avg_logprob=-1.4, no_speech_prob=0.1, chunk_ratio=1.0,
                                in_speech=True) == "low_confidence"
    assert hallucination_reason("it cures cancer", avg_logprob=-0.2, no_speech_prob=0.1, chunk_ratio=1.0,
                                in_speech=False) == "outside_speech"


def test_traditional_to_simplified():
    assert to_simplified("這個茶能治療糖尿病") == "这个茶能治疗糖尿病"
