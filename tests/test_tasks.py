"""The synthetic data sets: shapes, labels checked against their definitions, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_rnn import tasks


# ---- word detector ------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.integers(5, 40), p=st.floats(0.0, 1.0),
       decoy=st.floats(0.0, 1.0))
def test_word_detector_labels_mark_exactly_the_word_ends(seed: int, length: int,
                                                         p: float, decoy: float) -> None:
    data = tasks.word_detector(6, length, word="hello", p_insert=p, p_decoy=decoy, rng=seed)
    assert data.x.shape == (length, 6, 26) and data.y.shape == (length, 6)
    assert np.array_equal(data.x.argmax(-1), data.letters)
    assert np.all(data.x.sum(-1) == 1)
    for b in range(6):
        text = data.text(b)
        ends = {i + 4 for i in range(length) if text.startswith("hello", i)}
        assert {t for t in range(length) if data.y[t, b] == 1} == ends
    assert set(np.unique(data.y)) <= {0.0, 1.0}


def test_word_detector_inserts_the_word_often_enough() -> None:
    data = tasks.word_detector(50, 40, word="cat", p_insert=0.1, rng=0)
    per_sequence = data.y.sum(0)
    assert per_sequence.mean() > 1.0  # ~ 40 * 0.1 / (1 + 0.2) ≈ 3 inserts each
    assert data.y.mean() < 0.2


def test_word_detector_decoys_are_prefixes_that_are_not_targets() -> None:
    plain = tasks.word_detector(100, 40, word="hello", p_insert=0.05, rng=0)
    decoyed = tasks.word_detector(100, 40, word="hello", p_insert=0.05, p_decoy=0.3, rng=0)
    def count(data: tasks.WordDetectorData, s: str) -> int:
        return sum(data.text(b).count(s) for b in range(100))
    # "hel" occurs in every "hello" and, with decoys, often without one
    assert count(plain, "hel") - count(plain, "hello") < 5
    assert count(decoyed, "hel") - count(decoyed, "hello") > 50


def test_word_detector_is_deterministic_and_seed_dependent() -> None:
    a = tasks.word_detector(4, 20, rng=3)
    b = tasks.word_detector(4, 20, rng=3)
    c = tasks.word_detector(4, 20, rng=4)
    assert np.array_equal(a.letters, b.letters) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.letters, c.letters)


@pytest.mark.parametrize("kwargs, match", [
    (dict(word="héllo"), "alphabet"),
    (dict(word=""), "non-empty"),
    (dict(length=3), "does not fit"),
    (dict(p_insert=1.5), "probability"),
    (dict(p_decoy=-0.1), "p_decoy"),
    (dict(n_sequences=0), "n_sequences"),
])
def test_word_detector_bad_input(kwargs: dict, match: str) -> None:
    args = dict(n_sequences=2, length=10) | kwargs
    with pytest.raises(ValueError, match=match):
        tasks.word_detector(**args)


# ---- recall ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), gap=st.integers(1, 30), k=st.integers(2, 6),
       d=st.integers(1, 5))
def test_recall_task_first_step_is_the_answer_and_the_rest_is_distraction(
        seed: int, gap: int, k: int, d: int) -> None:
    data = tasks.recall_task(20, gap, n_symbols=k, n_distractors=d, rng=seed)
    assert data.x.shape == (gap + 1, 20, k + d) and data.y.shape == (20,)
    assert np.array_equal(data.x[0].argmax(-1), data.y)
    assert np.all(data.x[0, :, k:] == 0)  # the symbol step shows no distractor
    assert np.all(data.x[1:, :, :k] == 0)  # later steps never show a symbol
    assert np.all(data.x.sum(-1) == 1)
    assert data.y.min() >= 0 and data.y.max() < k


def test_recall_task_symbols_are_balanced() -> None:
    data = tasks.recall_task(4000, 5, n_symbols=4, rng=1)
    counts = np.bincount(data.y, minlength=4) / 4000
    assert np.all(np.abs(counts - 0.25) < 0.03)


# ---- tagging that needs the future ---------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.integers(2, 30), p=st.floats(0.0, 0.5))
def test_future_tagging_tags_follow_the_rules(seed: int, length: int, p: float) -> None:
    data = tasks.future_tagging(5, length, p_ambiguous=p, rng=seed)
    v = data.vocab
    assert data.tokens.shape == data.tags.shape == data.ambiguous.shape == (length, 5)
    for b in range(5):
        words = [v[i] for i in data.tokens[:, b]]
        for t, w in enumerate(words):
            if w in tasks.AMBIGUOUS:
                assert data.ambiguous[t, b]
                nxt = words[t + 1]  # an ambiguous word is never last: its decider follows
                assert nxt in tasks.PERSON_NEXT + tasks.THING_NEXT
                assert data.tags[t, b] == (nxt in tasks.PERSON_NEXT)
            else:
                assert not data.ambiguous[t, b]
                assert data.tags[t, b] == (w in tasks.NAMES)


def test_future_tagging_the_past_alone_cannot_tell_ambiguous_words() -> None:
    data = tasks.future_tagging(400, 20, p_ambiguous=0.4, rng=0)
    share = data.ambiguous.mean()
    assert 0.3 < share < 0.5
    person = data.tags[data.ambiguous].mean()  # a coin flip: the past carries no signal
    assert 0.45 < person < 0.55
    assert "*" in data.sentence(0) or data.tags[:, 0].sum() == 0
    with pytest.raises(ValueError, match="0.5"):
        tasks.future_tagging(2, 5, p_ambiguous=0.6)


# ---- time series -----------------------------------------------------------------------------
def test_noisy_sine_has_the_requested_period_and_noise() -> None:
    clean = tasks.noisy_sine(500, period=20.0, noise=0.0, rng=0)
    assert np.allclose(clean[20:], clean[:-20], atol=1e-5)
    assert abs(np.abs(clean).max() - 1.0) < 1e-2
    noisy = tasks.noisy_sine(5000, period=20.0, noise=0.2, rng=0)
    phase_fit = tasks.noisy_sine(5000, period=20.0, noise=0.0, rng=0)  # same phase draw
    assert abs(np.std(noisy - phase_fit) - 0.2) < 0.02
    assert noisy.dtype == np.float32


def test_sliding_windows_targets_are_the_next_values() -> None:
    series = np.arange(10, dtype=np.float32)
    x, y = tasks.sliding_windows(series, window=4, horizon=2)
    assert x.shape == y.shape == (4, 5, 1)
    assert x[:, 0, 0].tolist() == [0, 1, 2, 3] and y[:, 0, 0].tolist() == [2, 3, 4, 5]
    assert x[:, 4, 0].tolist() == [4, 5, 6, 7] and y[-1, 4, 0] == 9
    with pytest.raises(ValueError, match="too short"):
        tasks.sliding_windows(series, window=9, horizon=2)
    with pytest.raises(ValueError, match="1-D"):
        tasks.sliding_windows(series.reshape(2, 5), window=2)


# ---- character corpus -------------------------------------------------------------------------
def test_shipped_corpus_is_a_few_kb_of_lines() -> None:
    text = tasks.load_corpus()
    lines = tasks.corpus_lines(text)
    assert 2_000 < len(text) < 20_000
    assert len(lines) > 100 and all(line.isalpha() for line in lines)


def test_load_corpus_reads_a_given_file(tmp_path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("ab\n\n  cd \n", encoding="utf-8")
    assert tasks.corpus_lines(tasks.load_corpus(path)) == ["ab", "cd"]
    with pytest.raises(FileNotFoundError, match="no such file"):
        tasks.load_corpus(tmp_path / "missing.txt")


def test_char_vocab_round_trips_with_end_token_first() -> None:
    vocab = tasks.CharVocab.from_text("hello\nworld\n")
    assert vocab.chars == ["\n", "d", "e", "h", "l", "o", "r", "w"]
    assert vocab.end == 0 and len(vocab) == 8
    ids = vocab.encode("low")
    assert ids == [4, 5, 7] and vocab.decode(ids) == "low"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        vocab.encode("lowz")


def test_encode_lines_shifts_targets_by_one_step() -> None:
    vocab = tasks.CharVocab.from_text("abc")
    batch = tasks.encode_lines(["ab", "cab"], vocab)
    a, b, c = vocab.encode("abc")
    assert batch.inputs.shape == batch.targets.shape == (4, 2)
    assert batch.inputs[:, 1].tolist() == [-1, c, a, b]
    assert batch.targets[:, 1].tolist() == [c, a, b, vocab.end]
    assert batch.inputs[:3, 0].tolist() == [-1, a, b]
    assert batch.targets[:3, 0].tolist() == [a, b, vocab.end]
    assert batch.lengths.tolist() == [3, 4]
    assert batch.mask[:, 0].tolist() == [True, True, True, False]
    x = batch.one_hot_inputs(len(vocab))
    assert x.shape == (4, 2, 4) and np.all(x[0] == 0)
    assert np.array_equal(x[1:, 1].argmax(-1), [c, a, b])


def test_one_hot_rejects_out_of_range_and_floats() -> None:
    assert tasks.one_hot([2, 0], 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        tasks.one_hot([3], 3)
    with pytest.raises(TypeError, match="integers"):
        tasks.one_hot([0.5], 3)
