"""1. Feedforward refresher (curriculum §1): a one-hidden-layer MLP, its gradients next to the
hand formulas, then regression (MSE) and classification (softmax cross-entropy) with early
stopping on a validation split.

Notation as in the lectures (row vectors; the bias is one more input fixed at 1):

    h' = x·W1,   h = φ(h'),   y = h·W2          x: (N, I+1), W1: (I+1, H), W2: (H+1, O)

Hand formulas for one example and one output y:   ∂y/∂W2_i = h_i,
∂y/∂W1_ij = W2_j φ'(h'_j) x_i. The engine gets the same numbers by the generic graph walk.

    python examples/01_feedforward.py [--quick] [--seed S] [--out DIR]
"""

from __future__ import annotations

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.functional import cross_entropy, mse_loss


class MLP:
    """h' = [x, 1]·W1, h = tanh(h'), y = [h, 1]·W2 -- written with the lectures' matrices."""

    def __init__(self, inputs: int, hidden: int, outputs: int, rng: np.random.Generator,
                 dtype: type = np.float32) -> None:
        # He/Xavier-style scale keeps tanh out of saturation at the start
        self.W1 = tg.Tensor(rng.normal(0, 1 / np.sqrt(inputs + 1), (inputs + 1, hidden)),
                            requires_grad=True, dtype=dtype, name="W1")
        self.W2 = tg.Tensor(rng.normal(0, 1 / np.sqrt(hidden + 1), (hidden + 1, outputs)),
                            requires_grad=True, dtype=dtype, name="W2")

    def parameters(self) -> list[tg.Tensor]:
        return [self.W1, self.W2]

    def __call__(self, x: np.ndarray) -> tuple[tg.Tensor, tg.Tensor, tg.Tensor]:
        """Returns (h', h, y) for x of shape (N, I)."""
        ones = np.ones((len(x), 1), dtype=x.dtype)
        h_pre = tg.Tensor(np.concatenate([x, ones], axis=1)) @ self.W1  # h' = x·W1
        h = h_pre.tanh()  # h = φ(h')
        y = tg.concat([h, tg.Tensor(ones)], axis=1) @ self.W2  # y = h·W2
        return h_pre, h, y


def gradients_by_hand(rng: np.random.Generator) -> float:
    """One example, one output: print ∂y/∂W from the engine next to the hand formulas."""
    mlp = MLP(3, 4, 1, rng, dtype=np.float64)
    x = rng.normal(size=(1, 3))
    h_pre, h, y = mlp(x)
    y.sum().backward()
    x1 = np.append(x[0], 1.0)  # the bias input
    h1 = np.append(h.data[0], 1.0)
    phi_prime = 1.0 - np.tanh(h_pre.data[0]) ** 2  # tanh' = 1 − tanh²
    hand_W2 = h1[:, None]  # ∂y/∂W2_i = h_i
    hand_W1 = x1[:, None] * (mlp.W2.data[:-1, 0] * phi_prime)[None, :]  # W2_j φ'_j x_i
    assert mlp.W1.grad is not None and mlp.W2.grad is not None
    print("gradients of y for one example (engine vs hand formula):")
    print("  ∂y/∂W2_i = h_i")
    for i in range(len(h1)):
        print(f"    i={i}: engine {mlp.W2.grad[i, 0]: .6f}   hand {hand_W2[i, 0]: .6f}")
    print("  ∂y/∂W1_ij = W2_j φ'(h'_j) x_i   (first row, i = 0)")
    for j in range(hand_W1.shape[1]):
        print(f"    j={j}: engine {mlp.W1.grad[0, j]: .6f}   hand {hand_W1[0, j]: .6f}")
    diff = max(np.abs(mlp.W1.grad - hand_W1).max(), np.abs(mlp.W2.grad - hand_W2).max())
    print(f"  max |engine − hand| over all entries = {diff:.2e}")
    sig = np.linspace(-6, 6, 1001)
    s = 1 / (1 + np.exp(-sig))
    print(f"  (sigmoid' = σ(1−σ) peaks at {np.max(s * (1 - s)):.3f} = 1/4: each sigmoid layer "
          f"shrinks the error signal at least 4x)")
    return float(diff)


def split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    cut = int(0.75 * n)
    return order[:cut], order[cut:]


def train(mlp: MLP, loss_fn, x: np.ndarray, d: np.ndarray, rng: np.random.Generator,
          epochs: int, patience: int, desc: str) -> dict:
    """Mini-batch Adam; stop when the validation loss has not improved for ``patience``
    epochs and restore the best weights (early stopping)."""
    train_idx, val_idx = split(len(x), rng)
    opt = optim.Adam(mlp.parameters(), lr=0.02)
    history: dict = {"train": [], "val": [], "best_epoch": 0, "stopped_epoch": epochs}
    best = (np.inf, [p.data.copy() for p in mlp.parameters()])
    waited = 0
    for epoch in progress(range(epochs), desc):
        order = rng.permutation(train_idx)
        total = 0.0
        for start in range(0, len(order), 32):  # mini-batches of 32
            batch = order[start:start + 32]
            loss = loss_fn(mlp(x[batch])[2], d[batch])
            loss.backward(keep_grads=False)
            opt.step()
            opt.zero_grad()
            total += loss.item() * len(batch)
        with tg.no_grad():
            val = loss_fn(mlp(x[val_idx])[2], d[val_idx]).item()
        history["train"].append(total / len(train_idx))
        history["val"].append(val)
        if val < best[0] - 1e-6:
            best = (val, [p.data.copy() for p in mlp.parameters()])
            history["best_epoch"] = epoch
            waited = 0
        else:
            waited += 1
            if waited >= patience:
                history["stopped_epoch"] = epoch
                break
    for p, saved in zip(mlp.parameters(), best[1], strict=True):
        p.data = saved
    history["best_val"] = best[0]
    history["val_idx"] = val_idx
    return history


def main() -> None:
    args = parse_args("01_feedforward", __doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    diff = gradients_by_hand(rng)

    # regression: d = sin(2 x0) + x1² / 2 + noise, E = mean ½(d − y)² ... MSE
    n = 400 if args.quick else 1500
    x = rng.uniform(-1.5, 1.5, (n, 2)).astype(np.float32)
    d = (np.sin(2 * x[:, :1]) + 0.5 * x[:, 1:] ** 2
         + rng.normal(0, 0.05, (n, 1))).astype(np.float32)
    reg = MLP(2, 16, 1, rng)
    reg_hist = train(reg, mse_loss, x, d, rng, epochs=150 if args.quick else 400,
                     patience=15, desc="regression")
    baseline = float(np.var(d[reg_hist["val_idx"]]))  # predicting the mean
    print(f"\nregression: validation MSE {reg_hist['best_val']:.4f} (predicting the mean: "
          f"{baseline:.4f}); best epoch {reg_hist['best_epoch']}, stopped at epoch "
          f"{reg_hist['stopped_epoch']}")

    # classification: three interleaved spiral arms, softmax cross-entropy
    n_per = 100 if args.quick else 300
    xs, labels = [], []
    for k in range(3):
        r = np.linspace(0.15, 1.0, n_per)
        angle = np.linspace(k * 2 * np.pi / 3, k * 2 * np.pi / 3 + 3.0, n_per)
        angle = angle + rng.normal(0, 0.3, n_per)  # noisy arms: a model can overfit
        xs.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
        labels.append(np.full(n_per, k))
    xc = np.concatenate(xs).astype(np.float32)
    yc = np.concatenate(labels).astype(np.int64)
    clf = MLP(2, 32, 3, rng)
    clf_hist = train(clf, cross_entropy, xc, yc, rng, epochs=200 if args.quick else 600,
                     patience=25, desc="classification")
    val_idx = clf_hist["val_idx"]
    with tg.no_grad():
        accuracy = float((clf(xc[val_idx])[2].data.argmax(1) == yc[val_idx]).mean())
    print(f"classification (3 spirals): validation accuracy {accuracy:.3f}, cross-entropy "
          f"{clf_hist['best_val']:.4f}; best epoch {clf_hist['best_epoch']}, stopped at "
          f"epoch {clf_hist['stopped_epoch']}")

    written: list[str] = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        for ax, hist, title in ((axes[0], reg_hist, "regression (MSE)"),
                                (axes[1], clf_hist, "classification (cross-entropy)")):
            ax.plot(hist["train"], label="train")
            ax.plot(hist["val"], label="validation")
            ax.axvline(hist["best_epoch"], color="grey", ls="--", label="early-stopping point")
            ax.set(title=title, xlabel="epoch", ylabel="loss", yscale="log")
            ax.legend()
        grid = np.linspace(-1.2, 1.2, 150, dtype=np.float32)
        gx, gy = np.meshgrid(grid, grid)
        with tg.no_grad():
            cls = clf(np.stack([gx.ravel(), gy.ravel()], 1))[2].data.argmax(1)
        axes[2].contourf(gx, gy, cls.reshape(gx.shape), alpha=0.3, levels=[-.5, .5, 1.5, 2.5])
        axes[2].scatter(xc[:, 0], xc[:, 1], c=yc, s=6, cmap="viridis")
        axes[2].set(title=f"decision regions (val. accuracy {accuracy:.2f})", aspect="equal")
        save(fig, args.out, "feedforward", written)
    print("figures:", ", ".join(written) if written else "none")
    result(grad_max_abs_diff=diff, regression_val_mse=reg_hist["best_val"],
           regression_mean_baseline_mse=baseline, regression_best_epoch=reg_hist["best_epoch"],
           regression_stopped_epoch=reg_hist["stopped_epoch"],
           classification_val_accuracy=accuracy,
           classification_stopped_epoch=clf_hist["stopped_epoch"])


if __name__ == "__main__":
    main()
