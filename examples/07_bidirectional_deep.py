"""7. Bidirectional and deep RNNs (curriculum §7): a tagging task where the right tag needs
the future -- "He said, Teddy bears are on sale" vs "He said, Teddy Roosevelt was a great
president" -- tagged by a left-to-right GRU, a bidirectional GRU, and a deep stack.

Each word is tagged person / other. "teddy", "jordan" and "paris" are a person only when
the next word says so ("roosevelt", "smith", "said"), not before "bears", "river" or
"hilton". A left-to-right network must tag "teddy" before it has seen the next word, so on
those words it can only guess; the bidirectional one reads the sentence from both ends.

Models (many-to-many, one tag per word): Embedding -> GRU -> Linear at every step,
    uni:  GRU(1 layer)                    bi:  GRU(1 layer, bidirectional)
    uni2: GRU(num_layers=2): depth alone does not bring the future in
    deep: a 3-layer stack of different cells, each bidirectional: LSTM -> GRU -> RNN.

    python examples/07_bidirectional_deep.py [--quick] [--seed S] [--out DIR]
"""

from __future__ import annotations

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, tasks
from tinygrad_rnn.functional import cross_entropy

EMBED, HIDDEN = 12, 24


class Tagger(nn.Module):
    """Embedding -> a stack of recurrent layers -> Linear(2) at every step."""

    def __init__(self, vocab: int, layers: list[nn.Module], width: int, seed: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED, rng=seed)
        for i, layer in enumerate(layers):  # registered as rnn0, rnn1, ... (any cell types)
            setattr(self, f"rnn{i}", layer)
        self.depth = len(layers)
        self.out = nn.Linear(width, len(tasks.TAG_NAMES), rng=seed + 1)

    def forward(self, tokens: np.ndarray) -> tg.Tensor:
        """tokens (T, B) -> logits (T, B, 2)."""
        h = self.embed(tokens)
        for i in range(self.depth):
            h, _ = getattr(self, f"rnn{i}")(h)
        return self.out(h)


def build(kind: str, vocab: int, seed: int) -> Tagger:
    if kind == "uni":
        return Tagger(vocab, [nn.GRU(EMBED, HIDDEN, rng=seed)], HIDDEN, seed)
    if kind == "uni2":
        return Tagger(vocab, [nn.GRU(EMBED, HIDDEN, num_layers=2, rng=seed)], HIDDEN, seed)
    if kind == "bi":
        return Tagger(vocab, [nn.GRU(EMBED, HIDDEN, bidirectional=True, rng=seed)],
                      2 * HIDDEN, seed)
    half = HIDDEN // 2  # deep: about the same parameter count as "bi"
    layers: list[nn.Module] = [nn.LSTM(EMBED, half, bidirectional=True, rng=seed),
                               nn.GRU(2 * half, half, bidirectional=True, rng=seed + 2),
                               nn.RNN(2 * half, half, bidirectional=True, rng=seed + 3)]
    return Tagger(vocab, layers, 2 * half, seed)


def accuracy(model: Tagger, data: tasks.TaggingData) -> tuple[float, float, float]:
    """(all words, the ambiguous words, the other words)."""
    with tg.no_grad():
        right = model(data.tokens).data.argmax(-1) == data.tags
    return (float(right.mean()), float(right[data.ambiguous].mean()),
            float(right[~data.ambiguous].mean()))


def main() -> None:
    args = parse_args("07_bidirectional_deep", __doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    steps = 60 if args.quick else 600
    length, batch = 12 if args.quick else 16, 32
    test = tasks.future_tagging(300, length, rng=rng)
    vocab = len(test.vocab)
    print("a test sentence (* = person):", test.sentence(0))
    models = {kind: build(kind, vocab, args.seed) for kind in ("uni", "uni2", "bi", "deep")}
    opts = {kind: optim.Adam(m.parameters(), lr=0.01) for kind, m in models.items()}
    curves: dict[str, list[float]] = {kind: [] for kind in models}
    for _ in progress(range(steps), "training 4 taggers"):
        data = tasks.future_tagging(batch, length, rng=rng)  # the same batch for all three
        for kind, model in models.items():
            logits = model(data.tokens)
            loss = cross_entropy(logits.reshape(-1, 2), data.tags.reshape(-1))
            loss.backward(keep_grads=False)
            optim.clip_grad_norm_(model.parameters(), 5.0)
            opts[kind].step()
            opts[kind].zero_grad()
            curves[kind].append(loss.item())

    names = {"uni": "left-to-right GRU", "uni2": "2-layer left-to-right GRU",
             "bi": "bidirectional GRU",
             "deep": "3-layer bidirectional LSTM->GRU->RNN"}
    scores = {kind: accuracy(model, test) for kind, model in models.items()}
    print(f"\ntest accuracy after {steps} steps ({100 * test.ambiguous.mean():.0f}% of the words "
          f"are ambiguous):")
    print(f"  {'model':38s} {'all':>6s} {'ambiguous':>10s} {'others':>7s} {'params':>7s}")
    for kind, (all_, amb, other) in scores.items():
        print(f"  {names[kind]:38s} {all_:6.3f} {amb:10.3f} {other:7.3f} "
              f"{models[kind].num_parameters():7d}")
    print("  the left-to-right nets guess on the ambiguous words (~0.5) however deep they are: "
          "the tag is in the future")

    written: list[str] = []
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(8, 4))
        for kind, curve in curves.items():
            smooth = np.convolve(curve, np.ones(10) / 10, mode="valid")
            ax.plot(smooth, label=f"{names[kind]} (ambiguous acc. {scores[kind][1]:.2f})")
        ax.set(title="tagging loss (cross-entropy per word, 10-step mean)", xlabel="step",
               yscale="log")
        ax.legend()
        save(fig, args.out, "bidirectional_deep", written)
    print("figures:", ", ".join(written) if written else "none")
    result(**{f"{kind}_accuracy": s[0] for kind, s in scores.items()},
           **{f"{kind}_ambiguous_accuracy": s[1] for kind, s in scores.items()},
           **{f"{kind}_other_accuracy": s[2] for kind, s in scores.items()},
           **{f"{kind}_loss_first": float(np.mean(c[:10])) for kind, c in curves.items()},
           **{f"{kind}_loss_last": float(np.mean(c[-10:])) for kind, c in curves.items()})


if __name__ == "__main__":
    main()
