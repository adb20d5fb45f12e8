"""Seeded synthetic data sets for the lecture tasks (curriculum §8), in plain NumPy.

Every generator takes ``rng`` (a ``np.random.Generator`` or an int seed) and returns
arrays laid out time-major, as ``nn.RNN``/``GRU``/``LSTM`` expect by default:

* :func:`word_detector` -- one-hot letters with a target word inserted now and then;
  the target is 1 exactly at the steps where the word's last letter arrives.
* :func:`recall_task` -- a symbol at t = 1, ``gap`` steps of distractors, then the
  network must name the first symbol: a dependency ``gap`` steps long.
* :func:`future_tagging` -- the "Teddy" task: whether an ambiguous word is a person's
  name is decided by the *next* word, so only a bidirectional network can tag it.
* :func:`noisy_sine` and :func:`sliding_windows` -- a time series and its windows.
* :func:`load_corpus`, :class:`CharVocab`, :func:`encode_lines` -- a character-level
  language-model corpus (the shipped ``data/names.txt`` or any text file).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn.rng import get_rng

__all__ = [
    "CharVocab",
    "EncodedLines",
    "RecallData",
    "TaggingData",
    "WordDetectorData",
    "corpus_lines",
    "encode_lines",
    "future_tagging",
    "load_corpus",
    "noisy_sine",
    "one_hot",
    "recall_task",
    "sliding_windows",
    "word_detector",
]

Rng = np.random.Generator | int | None


def _positive(fn: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def one_hot(indices: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """indices (...) of ints in [0, num_classes) -> (..., num_classes) one-hot array."""
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: indices must lie in [0, {num_classes}), got values from "
                         f"{idx.min()} to {idx.max()}")
    return np.eye(num_classes, dtype=dtype)[idx]


# ---- the word detector --------------------------------------------------------------------
@dataclass
class WordDetectorData:
    """x: (T, B, V) one-hot letters; y: (T, B) float 0/1, 1 where ``word`` has just ended;
    letters: (T, B) int letter indices into ``alphabet``."""

    x: np.ndarray
    y: np.ndarray
    letters: np.ndarray
    word: str
    alphabet: str

    def text(self, b: int) -> str:
        """Sequence ``b`` as a string of letters."""
        return "".join(self.alphabet[i] for i in self.letters[:, b])


def word_detector(n_sequences: int, length: int, word: str = "hello",
                  alphabet: str = "abcdefghijklmnopqrstuvwxyz", p_insert: float = 0.08,
                  p_decoy: float = 0.0, rng: Rng = None) -> WordDetectorData:
    """Random letters with ``word`` inserted now and then (curriculum §8, the sequence detector).

    At each position a copy of ``word`` starts with probability ``p_insert`` (when it fits),
    else a decoy -- a proper prefix of the word ("hel" for "hello"), which a detector must
    not fire on -- with probability ``p_decoy``; other positions get a uniformly random
    letter. The target is 1 exactly where the last ``len(word)`` letters spell ``word``
    (also where random letters spell it by chance), so the labels are always right.
    """
    fn = "word_detector"
    n_sequences = _positive(fn, "n_sequences", n_sequences)
    length = _positive(fn, "length", length)
    if not word or any(ch not in alphabet for ch in word):
        raise ValueError(f"{fn}: word {word!r} must be non-empty and use only letters of the "
                         f"alphabet {alphabet!r}")
    if len(word) > length:
        raise ValueError(f"{fn}: word {word!r} (length {len(word)}) does not fit in sequences "
                         f"of length {length}")
    for name, p in (("p_insert", p_insert), ("p_decoy", p_decoy)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{fn}: {name} must be a probability in [0, 1], got {p}")
    gen = get_rng(rng)
    code = np.array([alphabet.index(ch) for ch in word])
    letters = gen.integers(0, len(alphabet), size=(n_sequences, length))
    for b in range(n_sequences):
        t = 0
        while t <= length - len(word):
            u = gen.random()
            if u < p_insert:
                letters[b, t:t + len(word)] = code
                t += len(word)
            elif u < p_insert + (1 - p_insert) * p_decoy and len(word) > 1:
                k = int(gen.integers(1, len(word)))  # a prefix of 1 .. len(word) − 1 letters
                letters[b, t:t + k] = code[:k]
                t += k
            else:
                t += 1
    y = np.zeros((n_sequences, length), dtype=np.float32)
    k = len(word)
    for t in range(k - 1, length):  # label by looking at the letters, not at the inserts
        y[:, t] = (letters[:, t - k + 1:t + 1] == code).all(axis=1)
    letters = letters.T.copy()
    return WordDetectorData(one_hot(letters, len(alphabet)), y.T.copy(), letters, word, alphabet)


# ---- long-range recall --------------------------------------------------------------------
@dataclass
class RecallData:
    """x: (gap + 1, B, n_symbols + n_distractors) one-hot; y: (B,) the symbol shown at t = 1
    (an int in [0, n_symbols)), to be output at the last step t = gap + 1."""

    x: np.ndarray
    y: np.ndarray
    gap: int
    n_symbols: int


def recall_task(n_sequences: int, gap: int, n_symbols: int = 4, n_distractors: int = 4,
                rng: Rng = None) -> RecallData:
    """Recall the first symbol after ``gap`` steps (a many-to-one task, curriculum §4).

    Step 1 shows one of ``n_symbols`` symbols; steps 2 .. gap+1 show random distractors
    from a separate set of ``n_distractors`` channels (never a symbol), so the only way to
    answer at the last step is to carry the first input ``gap`` steps forward. Chance level
    is 1 / n_symbols.
    """
    fn = "recall_task"
    n_sequences = _positive(fn, "n_sequences", n_sequences)
    gap = _positive(fn, "gap", gap)
    n_symbols = _positive(fn, "n_symbols", n_symbols, 2)
    n_distractors = _positive(fn, "n_distractors", n_distractors)
    gen = get_rng(rng)
    y = gen.integers(0, n_symbols, size=n_sequences)
    tokens = np.empty((gap + 1, n_sequences), dtype=np.int64)
    tokens[0] = y
    tokens[1:] = n_symbols + gen.integers(0, n_distractors, size=(gap, n_sequences))
    return RecallData(one_hot(tokens, n_symbols + n_distractors), y, gap, n_symbols)


# ---- tagging that needs the future ----------------------------------------------------------
# "He said, Teddy bears are on sale" vs "He said, Teddy Roosevelt was a great president":
# whether "teddy" is a person's name depends on the word that comes *after* it.
AMBIGUOUS = ("teddy", "jordan", "paris")
PERSON_NEXT = ("roosevelt", "smith", "said")  # after these, the ambiguous word is a person
THING_NEXT = ("bears", "river", "hilton")  # after these, it is not
NAMES = ("alice", "bob")  # always a person
FILLERS = ("he", "she", "the", "on", "sale", "was", "a", "great", "are", "saw", "big", "and")
TAG_NAMES = ("other", "person")


@dataclass
class TaggingData:
    """tokens, tags, ambiguous: (T, B) -- word indices into ``vocab``, tags (0 = other,
    1 = person) and a bool mask of the ambiguous words whose tag needs the next word."""

    tokens: np.ndarray
    tags: np.ndarray
    ambiguous: np.ndarray
    vocab: tuple[str, ...]

    def sentence(self, b: int) -> str:
        """Sequence ``b`` with each person word marked by a ``*``."""
        return " ".join(self.vocab[w] + ("*" if tag else "")
                        for w, tag in zip(self.tokens[:, b], self.tags[:, b], strict=True))


def future_tagging(n_sequences: int, length: int, p_ambiguous: float = 0.3,
                   rng: Rng = None) -> TaggingData:
    """Sentences of random words in which ambiguous words ("teddy") are followed by a word
    that decides their tag: a person before "roosevelt", a thing before "bears".

    A left-to-right network sees "teddy" before the deciding word, so for those positions
    it can do no better than guess (50 %); a bidirectional one also sees the next word.
    About ``p_ambiguous`` (at most 0.5) of the positions hold an ambiguous word.
    """
    fn = "future_tagging"
    n_sequences = _positive(fn, "n_sequences", n_sequences)
    length = _positive(fn, "length", length, 2)
    if not 0.0 <= p_ambiguous <= 0.5:
        raise ValueError(f"{fn}: p_ambiguous must lie in [0, 0.5] (each ambiguous word needs "
                         f"a deciding word after it), got {p_ambiguous}")
    vocab = AMBIGUOUS + PERSON_NEXT + THING_NEXT + NAMES + FILLERS
    index = {w: i for i, w in enumerate(vocab)}
    others = [index[w] for w in PERSON_NEXT + THING_NEXT + NAMES + FILLERS]
    gen = get_rng(rng)
    tokens = np.empty((n_sequences, length), dtype=np.int64)
    tags = np.zeros((n_sequences, length), dtype=np.int64)
    ambiguous = np.zeros((n_sequences, length), dtype=bool)
    # a pair (ambiguous, decider) fills two positions: starting one with probability q per
    # free position makes q / (1 + q) of the positions ambiguous, so q = p / (1 - p)
    p_start = min(1.0, p_ambiguous / (1.0 - p_ambiguous)) if p_ambiguous < 0.5 else 1.0
    for b in range(n_sequences):
        t = 0
        while t < length:
            if t + 1 < length and gen.random() < p_start:
                person = gen.random() < 0.5
                nxt = PERSON_NEXT if person else THING_NEXT
                tokens[b, t] = index[AMBIGUOUS[gen.integers(len(AMBIGUOUS))]]
                tokens[b, t + 1] = index[nxt[gen.integers(len(nxt))]]
                tags[b, t] = int(person)
                ambiguous[b, t] = True
                t += 2
            else:
                w = others[gen.integers(len(others))]
                tokens[b, t] = w
                tags[b, t] = int(vocab[w] in NAMES)
                t += 1
    return TaggingData(tokens.T.copy(), tags.T.copy(), ambiguous.T.copy(), vocab)


# ---- time series ----------------------------------------------------------------------------
def noisy_sine(n_points: int, period: float = 25.0, noise: float = 0.1,
               rng: Rng = None) -> np.ndarray:
    """(n_points,) float32 samples of sin(2π t / period + φ) + N(0, noise²), φ random."""
    n_points = _positive("noisy_sine", "n_points", n_points, 2)
    if period <= 0 or noise < 0:
        raise ValueError(f"noisy_sine: need period > 0 and noise >= 0, got period={period}, "
                         f"noise={noise}")
    gen = get_rng(rng)
    phase = gen.uniform(0, 2 * np.pi)
    t = np.arange(n_points)
    series = np.sin(2 * np.pi * t / period + phase) + gen.normal(0, noise, n_points)
    return series.astype(np.float32)


def sliding_windows(series: Any, window: int, horizon: int = 1) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """Cut a 1-D series into windows for next-value prediction.

    Returns ``inputs`` (window, N, 1) -- time-major, one feature -- and ``targets``
    (window, N, 1) where ``targets[t, n] = series[n + t + horizon]``: the value ``horizon``
    steps after each input. Many-to-one uses ``targets[-1]``; many-to-many uses all of it.
    """
    x = np.asarray(series)
    if x.ndim != 1:
        raise ValueError(f"sliding_windows: series must be 1-D, got shape {x.shape}")
    window = _positive("sliding_windows", "window", window)
    horizon = _positive("sliding_windows", "horizon", horizon)
    n = len(x) - window - horizon + 1
    if n < 1:
        raise ValueError(f"sliding_windows: a series of length {len(x)} is too short for "
                         f"window={window} and horizon={horizon}")
    starts = np.arange(n)[None, :] + np.arange(window)[:, None]  # (window, N)
    return x[starts][..., None].copy(), x[starts + horizon][..., None].copy()


# ---- character-level corpus ------------------------------------------------------------------
def load_corpus(path: str | Path | None = None) -> str:
    """The text of ``path``, or of the shipped corpus ``tinygrad_rnn/data/names.txt`` (a few
    hundred invented creature names, one per line) when ``path`` is None."""
    if path is None:
        resource = importlib.resources.files("tinygrad_rnn") / "data" / "names.txt"
        return resource.read_text(encoding="utf-8")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"load_corpus: no such file {str(p)!r}; pass a path to a text "
                                f"file, or nothing for the shipped corpus")
    return p.read_text(encoding="utf-8", errors="replace")


class CharVocab:
    """Characters <-> integer ids, with an end token (curriculum §8: "characters + end token").

    Id 0 is the end token ``END`` ("\\n": every line of the corpus ends with it); the
    characters follow in sorted order. ``decode`` stops at nothing and writes END as "\\n".
    """

    END = "\n"

    def __init__(self, chars: Sequence[str]) -> None:
        unique = sorted(set(chars) - {self.END})
        if any(len(ch) != 1 for ch in unique):
            raise ValueError("CharVocab: every entry must be a single character")
        self.chars: list[str] = [self.END, *unique]
        self.index = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls(list(text))

    @property
    def end(self) -> int:
        """The end token's id (0)."""
        return 0

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        missing = sorted({ch for ch in text if ch not in self.index})
        if missing:
            raise KeyError(f"CharVocab.encode: characters {missing!r} are not in the "
                           f"vocabulary of {len(self)} characters")
        return [self.index[ch] for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} tokens: END + {''.join(self.chars[1:])!r})"


@dataclass
class EncodedLines:
    """A padded batch of lines for a character-level language model.

    inputs, targets: (T, B) int ids, T = longest line + 1. ``inputs[0]`` is the start
    (``start`` = -1: feed a zero vector, as the lectures start sampling from zeros) and
    ``inputs[t] = targets[t-1]``; ``targets`` is the line followed by the end token.
    lengths: (B,) -- the real number of steps of each line (its length + 1); ``mask``
    (T, B) bool marks them. Padded entries hold 0 and must be masked out of the loss.
    """

    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray
    mask: np.ndarray

    start = -1

    def one_hot_inputs(self, vocab_size: int, dtype: Any = np.float32) -> np.ndarray:
        """(T, B, vocab_size) one-hot inputs; the start step is the zero vector."""
        x = one_hot(np.maximum(self.inputs, 0), vocab_size, dtype)
        x[self.inputs == self.start] = 0
        return x


def encode_lines(lines: Sequence[str], vocab: CharVocab) -> EncodedLines:
    """Lines -> padded (T, B) inputs/targets with y⟨t⟩ = x⟨t+1⟩ (see :class:`EncodedLines`)."""
    if not lines:
        raise ValueError("encode_lines: no lines given")
    codes = [vocab.encode(line) for line in lines]
    steps = max(len(c) for c in codes) + 1
    inputs = np.zeros((steps, len(codes)), dtype=np.int64)
    targets = np.zeros((steps, len(codes)), dtype=np.int64)
    lengths = np.array([len(c) + 1 for c in codes], dtype=np.int64)
    for b, c in enumerate(codes):
        inputs[0, b] = EncodedLines.start
        inputs[1:len(c) + 1, b] = c
        targets[:len(c), b] = c
        targets[len(c), b] = vocab.end
    mask = np.arange(steps)[:, None] < lengths[None, :]
    return EncodedLines(inputs, targets, lengths, mask)


def corpus_lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, stripped of surrounding whitespace."""
    return [line.strip() for line in text.splitlines() if line.strip()]
