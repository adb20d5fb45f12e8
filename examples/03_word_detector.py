"""3. The sequence (word) detector (curriculum §8): one-hot letters, random letters with a
target word inserted now and then, target 1 only when the word's last letter arrives; the
output is thresholded at 0.9.

Model: LSTM (or GRU) -> Linear -> sigmoid at every step (many-to-many), trained with binary
cross-entropy summed over the steps. Reported: per-step accuracy, and precision / recall /
F1 of the detections (output > 0.9) on fresh test sequences.

    python examples/03_word_detector.py [--quick] [--seed S] [--out DIR] [--cell lstm|gru]
                                        [--word hello]
"""

from __future__ import annotations

import argparse

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, tasks

THRESHOLD = 0.9  # the lectures' detection threshold
DECOYS = 0.15  # share of positions starting a prefix of the word ("hel"): near misses


def bce_with_logits(z: tg.Tensor, y: np.ndarray) -> tg.Tensor:
    """Mean of −[y log σ(z) + (1 − y) log(1 − σ(z))], in the overflow-free form
    max(z, 0) − z·y + log(1 + exp(−|z|)) (built from primitive ops)."""
    abs_z = z.relu() + (-z).relu()
    return (z.relu() - z * y + (1.0 + (-abs_z).exp()).log()).mean()


class Detector(nn.Module):
    def __init__(self, letters: int, hidden: int, cell: str, seed: int) -> None:
        super().__init__()
        layer = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = layer(letters, hidden, rng=seed)
        self.out = nn.Linear(hidden, 1, rng=seed + 1)

    def forward(self, x: np.ndarray) -> tg.Tensor:
        """x (T, B, letters) -> logits (T, B)."""
        h, _ = self.rnn(tg.Tensor(x))
        return self.out(h).squeeze(-1)


def scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    hit = p > THRESHOLD
    tp = float((hit & (y == 1)).sum())
    precision = tp / max(hit.sum(), 1)
    recall = tp / max((y == 1).sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"accuracy": float((hit == (y == 1)).mean()), "precision": precision,
            "recall": recall, "f1": f1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--word", default="hello", help="the word to detect (a-z)")


def main() -> None:
    args = parse_args("03_word_detector", __doc__.splitlines()[0], add_arguments)
    rng = np.random.default_rng(args.seed)
    steps = 150 if args.quick else 1500
    length, batch = 30, 32
    model = Detector(26, 24 if args.quick else 48, args.cell, args.seed)
    # quick mode: fewer but larger steps (as in 04)
    opt = optim.Adam(model.parameters(), lr=0.02 if args.quick else 0.01)
    test = tasks.word_detector(200, 60, word=args.word, p_decoy=DECOYS, rng=rng)
    print(f"detecting {args.word!r} with a {args.cell.upper()}; a test sequence:\n  "
          f"{test.text(0)}\n  targets at t = {np.flatnonzero(test.y[:, 0]).tolist()}")

    def evaluate() -> dict[str, float]:
        with tg.no_grad():
            return scores(model(test.x).sigmoid().data, test.y)

    before = evaluate()
    losses = []
    for _ in progress(range(steps), "training"):
        data = tasks.word_detector(batch, length, word=args.word, p_decoy=DECOYS, rng=rng)
        loss = bce_with_logits(model(data.x), data.y)
        loss.backward(keep_grads=False)
        optim.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    after = evaluate()
    base_rate = float(test.y.mean())
    print(f"loss {np.mean(losses[:10]):.4f} -> {np.mean(losses[-10:]):.4f} "
          f"({steps} Adam steps on batches of {batch} random sequences of length {length})")
    for label, s in (("before training", before), ("after training", after)):
        print(f"  {label:16s} accuracy {s['accuracy']:.4f}  precision {s['precision']:.3f}  "
              f"recall {s['recall']:.3f}  F1 {s['f1']:.3f}")
    print(f"  (always answering 0 gives accuracy {1 - base_rate:.4f} and F1 0: the word ends "
          f"at {100 * base_rate:.1f}% of the steps)")

    with tg.no_grad():
        p = model(test.x[:, :1]).sigmoid().data[:, 0]
    written: list[str] = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(2, 1, figsize=(12, 6))
        axes[0].plot(losses, lw=0.8)
        axes[0].set(title="training loss (binary cross-entropy)", xlabel="step", yscale="log")
        t = np.arange(len(p))
        axes[1].bar(t, test.y[:, 0], color="#cccccc", label="target (word ends)")
        axes[1].plot(t, p, "o-", color="C1", ms=3, label="output σ(z)")
        axes[1].axhline(THRESHOLD, color="C3", ls="--", lw=1, label="threshold 0.9")
        axes[1].set_xticks(t, list(test.text(0)), fontsize=7)
        axes[1].set(title="one test sequence", ylim=(0, 1.05))
        axes[1].legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        save(fig, args.out, "word_detector", written)
    print("figures:", ", ".join(written) if written else "none")
    result(cell=args.cell, word=args.word, loss_first=float(np.mean(losses[:10])),
           loss_last=float(np.mean(losses[-10:])), accuracy=after["accuracy"],
           precision=after["precision"], recall=after["recall"], f1=after["f1"],
           f1_before=before["f1"], all_zero_accuracy=1 - base_rate)


if __name__ == "__main__":
    main()
