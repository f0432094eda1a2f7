"""The shipped claims model on talk that is not selling at all. The held-out test measures false
alarms on lawful live-commerce talk only; hosts also chat, tell stories and read out cards. In
session 9 two larger corpora (ft6, ft7: more writers' short ad-copy fragments and quoted
wording) kept the held-out F1 but flagged "Ace of hearts." as a medical claim and raised the
findings on the `bench scan` recordings (audiobook and card reading, no selling) from 1 to 29;
they were held back until session 10 added speech that sells nothing to the corpus (ft9). These
sentences were written for this test and appear in no corpus file; the larger held-out measure
is the corpus's nonselling_test split (`liveguard claims report`)."""
from __future__ import annotations

import pytest

ORDINARY = [
    "Queen of diamonds, two of clubs, nine of spades.",
    "Ace of hearts.",
    "Jack of clubs and three of diamonds.",
    "She walked to the window and watched the rain fall on the empty street.",
    "Some people call him the captain. Others just call him Tom.",
    "They call me the old man of the mountain.",
    "He was not an unkind man, only a careless one.",
    "The train left at seven and reached the coast by noon.",
    "My grandmother kept chickens behind the house when I was small.",
    "Had she stayed in London, she might have been happier.",
    "今天天气不错，我们先聊聊天，等会儿再开始。",
    "小时候我奶奶家后院养了几只鸡。",
    "黑桃八，梅花四，红桃七。",
    "有人叫我老张，也有人叫我张师傅。",
    "他其实不是个坏人，就是有点粗心。",
]


@pytest.fixture(scope="module")
def detector():
    from claims.combined import CombinedDetector
    from claims.model_detector import ModelDetector
    from claims.rules import RuleDetector

    return CombinedDetector(RuleDetector(), ModelDetector.load())


def test_ordinary_talk_gives_no_findings(detector):
    flagged = {s: c.labels for s, c in zip(ORDINARY, detector.classify_batch(ORDINARY)) if c.labels}
    assert flagged == {}


def test_these_sentences_are_in_no_corpus_file():
    from claims.corpus import CORPUS_DIR

    texts = "".join(p.read_text(encoding="utf-8") for p in CORPUS_DIR.rglob("*.jsonl"))
    assert not [s for s in ORDINARY if s in texts]
