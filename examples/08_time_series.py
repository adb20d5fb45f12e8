"""8. Time-series prediction (curriculum §2, §8): a noisy sine, predicted one step ahead.

* many-to-one: read a window x_1..x_T, output one number at the end: x̂_{T+1};
* many-to-many: output x̂_{t+1} at every step t of the window (T_x = T_y);
* free-running (one-to-many in spirit): feed each prediction back in as the next input.

The model is GRU(1, H) -> Linear(H, 1), trained with MSE on windows from the first 70% of
the series and tested on the last 30%, against the naive baseline "the next value equals
the last one" and against the noise floor (the variance of the added noise, which no
predictor can beat).

    python examples/08_time_series.py [--quick] [--seed S] [--out DIR]
"""

from __future__ import annotations

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, tasks
from tinygrad_rnn.functional import mse_loss

PERIOD, NOISE, WINDOW = 25.0, 0.1, 20


class Forecaster(nn.Module):
    def __init__(self, hidden: int, seed: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, hidden, rng=seed)
        self.out = nn.Linear(hidden, 1, rng=seed + 1)

    def forward(self, x: np.ndarray) -> tg.Tensor:
        """x (T, B, 1) -> predictions of the next value at every step, (T, B, 1)."""
        h, _ = self.rnn(tg.Tensor(x))
        return self.out(h)


def fit(model: Forecaster, x: np.ndarray, y: np.ndarray, many_to_many: bool, steps: int,
        rng: np.random.Generator, desc: str) -> list[float]:
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in progress(range(steps), desc):
        batch = rng.choice(x.shape[1], 32, replace=False)
        pred = model(x[:, batch])
        loss = mse_loss(pred, y[:, batch]) if many_to_many else mse_loss(pred[-1],
                                                                         y[-1, batch])
        loss.backward(keep_grads=False)
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


def free_run(model: Forecaster, context: np.ndarray, horizon: int) -> np.ndarray:
    """Feed each prediction back in: continue the series ``horizon`` steps past ``context``."""
    seq = list(context)
    with tg.no_grad():
        for _ in range(horizon):
            window = np.asarray(seq[-WINDOW:], dtype=np.float32).reshape(-1, 1, 1)
            seq.append(float(model(window).data[-1, 0, 0]))
    return np.asarray(seq[len(context):])


def main() -> None:
    args = parse_args("08_time_series", __doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    series = tasks.noisy_sine(1200 if args.quick else 4000, PERIOD, NOISE, rng=rng)
    cut = int(0.7 * len(series))
    x_train, y_train = tasks.sliding_windows(series[:cut], WINDOW)
    x_test, y_test = tasks.sliding_windows(series[cut:], WINDOW)
    steps = 150 if args.quick else 1500
    hidden = 16 if args.quick else 32

    one = Forecaster(hidden, args.seed)
    loss_one = fit(one, x_train, y_train, False, steps, rng, "many-to-one")
    many = Forecaster(hidden, args.seed)
    loss_many = fit(many, x_train, y_train, True, steps, rng, "many-to-many")

    with tg.no_grad():
        pred_one = one(x_test).data[-1]
        pred_many = many(x_test).data
    mse_one = float(np.mean((pred_one - y_test[-1]) ** 2))
    naive_one = float(np.mean((x_test[-1] - y_test[-1]) ** 2))  # x̂_{T+1} = x_T
    per_step = np.mean((pred_many - y_test) ** 2, axis=(1, 2))  # MSE at each step t
    mse_many = float(per_step.mean())
    naive_many = float(np.mean((x_test - y_test) ** 2))
    floor = NOISE ** 2
    print(f"noisy sine: period {PERIOD:g}, noise σ = {NOISE} (noise floor σ² = {floor:.4f}); "
          f"windows of {WINDOW}, {x_train.shape[1]} train / {x_test.shape[1]} test")
    print(f"  many-to-one   test MSE {mse_one:.4f}   last-value baseline {naive_one:.4f}   "
          f"(train loss {np.mean(loss_one[:10]):.4f} -> {np.mean(loss_one[-10:]):.4f})")
    print(f"  many-to-many  test MSE {mse_many:.4f}   last-value baseline {naive_many:.4f}   "
          f"(train loss {np.mean(loss_many[:10]):.4f} -> {np.mean(loss_many[-10:]):.4f})\n"
          f"                step 1 alone: {per_step[0]:.4f}, last step: {per_step[-1]:.4f} "
          f"(the state needs a few steps of context)")
    horizon = 3 * int(PERIOD)
    start = cut + 100
    future = free_run(one, series[start - WINDOW:start], horizon)
    truth = series[start:start + horizon]
    free_mse = float(np.mean((future - truth) ** 2))
    print(f"  free-running {horizon} steps from its own predictions: MSE {free_mse:.4f}")

    written: list[str] = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        span = slice(0, 150)
        axes[0].plot(y_test[-1, span, 0], ".", color="grey", ms=3, label="noisy next value")
        axes[0].plot(pred_one[span, 0], label=f"many-to-one (MSE {mse_one:.3f})")
        axes[0].plot(x_test[-1, span, 0], lw=0.8, alpha=0.6,
                     label=f"last value (MSE {naive_one:.3f})")
        axes[0].set(title="one step ahead, test part", xlabel="window")
        axes[0].legend(fontsize=7)
        axes[1].plot(np.arange(1, WINDOW + 1), per_step, "o-", label="many-to-many")
        axes[1].axhline(naive_many, color="C1", ls="--", label="last-value baseline")
        axes[1].axhline(floor, color="grey", ls=":", label="noise floor σ²")
        axes[1].set(title="test MSE at each step t of the window", xlabel="t", yscale="log")
        axes[1].legend(fontsize=7)
        axes[2].plot(np.arange(-WINDOW, 0), series[start - WINDOW:start], color="k",
                     label="context")
        axes[2].plot(np.arange(horizon), truth, ".", color="grey", ms=3, label="truth")
        axes[2].plot(np.arange(horizon), future, color="C2", label="fed back")
        axes[2].set(title="free-running: predictions fed back in", xlabel="steps ahead")
        axes[2].legend(fontsize=7)
        fig.tight_layout()
        save(fig, args.out, "time_series", written)
    print("figures:", ", ".join(written) if written else "none")
    result(many_to_one_mse=mse_one, many_to_one_baseline_mse=naive_one,
           many_to_many_mse=mse_many, many_to_many_baseline_mse=naive_many,
           many_to_many_last_step_mse=float(per_step[-1]), noise_floor=floor,
           free_running_mse=free_mse, loss_first=float(np.mean(loss_one[:10])),
           loss_last=float(np.mean(loss_one[-10:])))


if __name__ == "__main__":
    main()
