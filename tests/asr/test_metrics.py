"""WER scoring: the same words score the same however Whisper wrote its digits (digits_as_words)."""

import pytest

from asr.metrics import normalize_for_wer, spell_lone_digits, wer

CARDS = "seven of clubs five five eight of spades four of clubs"  # two utterances run together


@pytest.mark.parametrize("hyp", [
    "Seven of clubs. Five, five. Eight of spades, four of clubs.",
    "Seven of clubs. Five, five. 8 of spades, 4 of clubs.",
    "7 of clubs. 5, 5. 8 of spades, 4 of clubs.",
    "Seven of clubs. Five. Five. Eight of spades. Four of clubs.",
])
def test_the_same_words_score_the_same_however_the_digits_are_written(hyp):
    assert wer([CARDS], [hyp], digits_as_words=True) == 0.0


def test_whisper_normaliser_alone_scores_digits_and_words_differently():
    # why the option exists: correct words, two errors, only because "8" was written as a digit
    assert wer([CARDS], ["Seven of clubs. Five, five. Eight of spades, four of clubs."]) == 0.0
    assert wer([CARDS], ["Seven of clubs. Five, five. 8 of spades, 4 of clubs."]) > 0.0
    assert normalize_for_wer("5, 5") == "5 5" and normalize_for_wer("five five") == "55"


def test_real_errors_still_count():
    assert wer([CARDS], ["Seven of clothes. Five, five. 8 of spades, 4 of clubs."], digits_as_words=True) == \
        pytest.approx(1 / len(normalize_for_wer(CARDS, True).split()))
    assert wer(["five five"], ["5, 6"], digits_as_words=True) > 0.0


@pytest.mark.parametrize("text", ["25 people", "3.5 kg", "1,000 votes", "$5 off", "5% more", "the 5th",
                                  "a 5-year plan", "at 5:30", "1/2 cup", "version 2.0"])
def test_digits_inside_numbers_amounts_and_words_are_left_alone(text):
    assert spell_lone_digits(text) == text


def test_lone_digits_are_spelled():
    assert spell_lone_digits("8 of spades, 4 of clubs. Room 5.") == "eight of spades, four of clubs. Room five."
    assert spell_lone_digits("0 to 9") == "zero to nine"


def test_default_is_whisper_normaliser_unchanged():
    text = "Five, five. 8 of spades"
    assert normalize_for_wer(text) == "55 8 of spades"
    assert normalize_for_wer(text, digits_as_words=True) == "558 of spades"
