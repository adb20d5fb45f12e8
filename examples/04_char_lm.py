"""4. Character-level language model with sampling (curriculum §8).

Vocabulary: the characters of the corpus plus an end token (id 0, "\\n"). Each line is a
sequence; the input at t = 1 is the zero vector and y⟨t⟩ = x⟨t+1⟩: the target at every
step is the next character, and after the last one the end token. The loss is the
cross-entropy summed over the steps; the training loop is forward, backward, clip, update.

Sampling starts from zeros, draws each character from softmax(logits / temperature)
(np.random.choice), feeds it back in, and stops at the end token or a length limit. The
probability of a whole line is the product of its per-step probabilities.

    python examples/04_char_lm.py [--quick] [--seed S] [--out DIR] [--text PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, tasks
from tinygrad_rnn.files import atomic_write
from tinygrad_rnn.functional import cross_entropy, softmax

MAX_LEN = 40  # the sampling length limit


class CharLM(nn.Module):
    """one-hot x⟨t⟩ -> LSTM -> Linear -> logits of x⟨t+1⟩."""

    def __init__(self, vocab: int, hidden: int, seed: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.rnn = nn.LSTM(vocab, hidden, rng=seed)
        self.out = nn.Linear(hidden, vocab, rng=seed + 1)

    def forward(self, x: np.ndarray, state=None, lengths=None):
        """x (T, B, vocab) -> logits (T, B, vocab) and the final (h, c)."""
        h, state = self.rnn(tg.Tensor(x), state, lengths=lengths)
        return self.out(h), state


def sequence_loss(model: CharLM, batch: tasks.EncodedLines) -> tg.Tensor:
    """Cross-entropy summed over the real steps of each line, averaged over the lines."""
    x = batch.one_hot_inputs(model.vocab)
    logits, _ = model(x, lengths=batch.lengths)
    per_step = cross_entropy(logits.reshape(-1, model.vocab), batch.targets.reshape(-1),
                             reduction="none")
    mask = batch.mask.reshape(-1).astype(per_step.dtype)  # padded steps do not count
    return (per_step * mask).sum() / float(len(batch.lengths))


def sample(model: CharLM, vocab: tasks.CharVocab, temperature: float,
           rng: np.random.Generator) -> str:
    """Start from zeros; sample, feed back in, stop at the end token or MAX_LEN."""
    x = np.zeros((1, 1, len(vocab)), dtype=np.float32)
    state = None
    ids: list[int] = []
    with tg.no_grad():
        for _ in range(MAX_LEN):
            logits, state = model(x, state)
            p = softmax(logits[0, 0] / temperature).data.astype(np.float64)
            i = int(rng.choice(len(vocab), p=p / p.sum()))
            if i == vocab.end:
                break
            ids.append(i)
            x = tasks.one_hot(np.array([[i]]), len(vocab))
    return vocab.decode(ids)


def line_log_prob(model: CharLM, vocab: tasks.CharVocab, line: str) -> float:
    """log P(line) = Σ_t log p(x⟨t+1⟩ | x⟨1..t⟩), the end token included."""
    with tg.no_grad():
        return -sequence_loss(model, tasks.encode_lines([line], vocab)).item()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", type=Path, default=None,
                        help="train on this text file, one sequence per line (default: the "
                             "shipped corpus of invented creature names)")


def main() -> None:
    args = parse_args("04_char_lm", __doc__.splitlines()[0], add_arguments)
    rng = np.random.default_rng(args.seed)
    try:
        lines = tasks.corpus_lines(tasks.load_corpus(args.text))
    except (FileNotFoundError, UnicodeDecodeError) as error:
        raise SystemExit(f"04_char_lm: {error}") from None
    if len(lines) < 2:
        raise SystemExit(f"04_char_lm: {args.text} has {len(lines)} non-empty line(s); need at "
                         f"least 2 (one sequence per line)")
    longest = 60  # keep the unrolled graphs short: long lines are cut
    lines = [line[:longest] for line in lines]
    vocab = tasks.CharVocab.from_text("".join(lines))
    order = rng.permutation(len(lines))
    n_val = max(1, len(lines) // 10)
    val_lines = [lines[i] for i in order[:n_val]]
    train_lines = [lines[i] for i in order[n_val:]]
    val = tasks.encode_lines(val_lines, vocab)
    chars_val = int(val.lengths.sum())
    print(f"corpus: {len(lines)} lines, {sum(map(len, lines))} characters; {vocab}")

    model = CharLM(len(vocab), 48 if args.quick else 128, args.seed)
    opt = optim.Adam(model.parameters(), lr=0.01 if args.quick else 0.005)
    steps = 150 if args.quick else 3000

    def val_loss() -> float:
        """Validation cross-entropy per character (nats)."""
        with tg.no_grad():
            return sequence_loss(model, val).item() * len(val_lines) / chars_val

    samples_before = [sample(model, vocab, 1.0, rng) for _ in range(5)]
    before = val_loss()
    losses, norms = [], []
    for _ in progress(range(steps), "training"):
        pick = rng.choice(len(train_lines), min(32, len(train_lines)), replace=False)
        batch = tasks.encode_lines([train_lines[i] for i in pick], vocab)
        loss = sequence_loss(model, batch)  # forward
        loss.backward(keep_grads=False)  # backward
        norms.append(optim.clip_grad_norm_(model.parameters(), 5.0))  # clip
        opt.step()  # update
        opt.zero_grad()
        losses.append(loss.item() / (batch.lengths.sum() / len(pick)))  # per character
    after = val_loss()
    uniform = float(np.log(len(vocab)))
    print(f"validation loss per character: {before:.3f} -> {after:.3f} nats "
          f"(uniform guess: {uniform:.3f}); {steps} steps, gradient norm clipped at 5 "
          f"(largest norm seen: {max(norms):.1f})")
    print("samples before training (temperature 1):")
    for s in samples_before:
        print(f"    {s!r}")
    samples = {}
    for temperature in (0.5, 1.0):
        samples[temperature] = [sample(model, vocab, temperature, rng) for _ in range(8)]
        print(f"samples after training (temperature {temperature}):")
        for s in samples[temperature]:
            novel = "" if s in lines else "   (new)"
            print(f"    {s!r}{novel}")
    known = set(lines)
    novel_share = float(np.mean([s not in known for s in samples[1.0]]))
    ended = float(np.mean([len(s) < MAX_LEN for s in samples[1.0]]))
    real = val_lines[0]
    scrambled = "".join(rng.permutation(list(real)))
    lp_real, lp_scrambled = line_log_prob(model, vocab, real), line_log_prob(model, vocab,
                                                                              scrambled)
    print(f"log P({real!r}) = {lp_real:.2f}   log P({scrambled!r}) = {lp_scrambled:.2f}   "
          f"(product of the per-step probabilities)")

    written: list[str] = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        axes[0].plot(losses, lw=0.7, label="training batch")
        axes[0].axhline(uniform, color="grey", ls=":", label="uniform guess")
        axes[0].axhline(after, color="C1", ls="--", label=f"validation {after:.2f}")
        axes[0].set(title="loss per character (nats)", xlabel="step")
        axes[0].legend(fontsize=8)
        axes[1].plot(norms, lw=0.7)
        axes[1].axhline(5.0, color="C3", ls="--", label="clip threshold")
        axes[1].set(title="gradient norm before clipping", xlabel="step", yscale="log")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        save(fig, args.out, "char_lm", written)
    atomic_write(args.out / "samples.txt", "\n".join(samples[1.0]) + "\n")
    written.append(str(args.out / "samples.txt"))
    print("written:", ", ".join(written))
    result(val_loss_before=before, val_loss_after=after, uniform_loss=uniform,
           train_loss_first=float(np.mean(losses[:10])),
           train_loss_last=float(np.mean(losses[-10:])), vocab_size=len(vocab),
           novel_sample_share=novel_share, ended_sample_share=ended,
           log_prob_real=lp_real, log_prob_scrambled=lp_scrambled,
           samples=samples[1.0][:4])


if __name__ == "__main__":
    main()
