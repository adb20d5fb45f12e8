"""6. Gradient clipping and truncated BPTT (curriculum §4).

Part 1 -- exploding gradients. An Elman RNN with a large W_s, s_t = φ(x_t·W_x + s_{t−1}·W_s),
y_t = s_t·W_y, learns to predict a noisy sine one step ahead with plain SGD. φ = ReLU (one
of the lectures' φ): unlike tanh it does not cap the states, so Π ∂s_j/∂s_{j−1} grows like
‖W_s‖^t and the gradient explodes. Three runs from the same start:

    no clipping          -> the update overflows: inf, then NaN weights (the lectures' symptom)
    clip by value (N=5)  -> every gradient entry cut to [−5, 5]       (optim.clip_grad_value_)
    clip by norm (5)     -> the whole gradient rescaled to norm <= 5  (optim.clip_grad_norm_)

Anomaly mode (``tinygrad_rnn.anomaly.detect_anomaly``) names the op and the time step where
the first non-finite number appears.

Part 2 -- truncated BPTT. Backpropagate only k steps (the state carried on with
``.detach()``; ``tinygrad_rnn.truncated``). For a tanh RNN, the relative difference between
the truncated and the full gradient ‖g_k − g_T‖ / ‖g_T‖ for each k: small when the far
paths vanish anyway (small W_s), large when they do not (large W_s). The unrolled graph of
the last window is drawn with the cut edge marked.

    python examples/06_clipping_truncation.py [--quick] [--seed S] [--out DIR]
"""

from __future__ import annotations

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, render_graph, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import optim, tasks
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.truncated import truncated_bptt

H = 16


class Elman:
    """s_t = φ(x_t·W_x + s_{t−1}·W_s + b), y_t = s_t·W_y, in the lectures' notation."""

    def __init__(self, gain: float, rng: np.random.Generator, dtype: type = np.float32,
                 phi: str = "relu") -> None:
        def param(shape: tuple[int, ...], std: float, name: str) -> tg.Tensor:
            return tg.Tensor(rng.normal(0, std, shape), requires_grad=True, dtype=dtype,
                             name=name)

        self.W_x = param((1, H), 1.0, "W_x")
        self.W_s = param((H, H), gain / np.sqrt(H), "W_s")  # spectral radius ≈ gain
        self.b = param((H,), 0.1, "b")
        self.W_y = param((H, 1), 1 / np.sqrt(H), "W_y")
        self.phi = phi

    def parameters(self) -> list[tg.Tensor]:
        return [self.W_x, self.W_s, self.b, self.W_y]

    def step(self, x: np.ndarray, s: tg.Tensor) -> tg.Tensor:
        pre = tg.Tensor(x, name="x") @ self.W_x + s @ self.W_s + self.b
        s = pre.relu() if self.phi == "relu" else pre.tanh()
        s.name = "s"
        return s

    def loss(self, x: np.ndarray, d: np.ndarray) -> tg.Tensor:
        """Mean over steps and batch of (d_t − y_t)²; x, d: (T, B, 1)."""
        s = tg.Tensor(np.zeros((x.shape[1], H), dtype=self.W_s.dtype))
        total = None
        for t in range(len(x)):
            with tg.scope(f"t={t + 1}"):
                s = self.step(x[t], s)
                e = ((s @ self.W_y - d[t]) ** 2).mean()
                total = e if total is None else total + e
        assert total is not None
        return total / float(len(x))


def grad_norm(params: list[tg.Tensor]) -> float:
    """‖g‖ over all the parameters' gradients together (as clip_grad_norm_ measures it)."""
    return float(np.sqrt(sum(np.sum(np.square(p.grad, dtype=np.float64))
                             for p in params if p.grad is not None)))


def train(mode: str, data: tuple[np.ndarray, np.ndarray], steps: int, seed: int
          ) -> dict:
    """SGD from the same exploding start; ``mode``: "none", "value" or "norm"."""
    rng = np.random.default_rng(seed)
    model = Elman(2.0, rng)
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, d = data
    batches = np.random.default_rng(seed + 1)  # the same batches for every mode
    out: dict = {"loss": [], "norm": [], "first_nonfinite": None, "anomaly": None}
    watching = mode == "none"  # anomaly mode until the first NaN/inf is found
    for i in progress(range(steps), f"clip={mode}"):
        pick = batches.choice(x.shape[1], 16, replace=False)
        with np.errstate(all="ignore"):  # overflow is the point here: no warnings
            try:
                if watching:
                    with detect_anomaly():
                        loss = model.loss(x[:, pick], d[:, pick])
                        loss.backward(keep_grads=False)
                else:
                    loss = model.loss(x[:, pick], d[:, pick])
                    loss.backward(keep_grads=False)
            except AnomalyError as error:
                out["anomaly"] = {"step": i, "op": error.op, "phase": error.phase,
                                  "t": error.t, "kind": error.kind, "message": str(error)}
                watching = False
                opt.zero_grad()  # redo this step as it would have run, without the checks
                loss = model.loss(x[:, pick], d[:, pick])
                loss.backward(keep_grads=False)
            if mode == "norm":
                norm = optim.clip_grad_norm_(model.parameters(), 5.0)  # returns the norm before
            else:
                norm = grad_norm(model.parameters())
            if mode == "value":
                optim.clip_grad_value_(model.parameters(), 5.0)  # the lectures' N = 5
            opt.step()
            opt.zero_grad()
        value = loss.item()
        out["loss"].append(value)
        out["norm"].append(norm)
        finite = np.isfinite(value) and all(np.isfinite(p.data).all()
                                            for p in model.parameters())
        if not finite and out["first_nonfinite"] is None:
            out["first_nonfinite"] = i
    out["weights_finite"] = bool(all(np.isfinite(p.data).all() for p in model.parameters()))
    return out


def truncation_study(gain: float, T: int, ks: list[int], rng: np.random.Generator
                     ) -> dict[int, float]:
    """‖g_k − g_T‖ / ‖g_T‖ for ∂L/∂W_s, L = Σ_t E_t on one batch, tanh RNN, float64."""
    model = Elman(gain, rng, dtype=np.float64, phi="tanh")
    series = tasks.noisy_sine(T + 40, rng=rng).astype(np.float64)
    x, d = tasks.sliding_windows(series, T)
    x, d = x[:, :8], d[:, :8]

    def grad(k: int) -> np.ndarray:
        model.W_s.grad = None

        def step(t: int, s: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
            with tg.scope(f"t={t + 1}"):
                s = model.step(x[t], s)
                return ((s @ model.W_y - d[t]) ** 2).mean(), s

        truncated_bptt(step, T, tg.Tensor(np.zeros((8, H))), k, keep_grads=False)
        assert model.W_s.grad is not None
        g = model.W_s.grad
        for p in model.parameters():
            p.grad = None
        return g

    full = grad(T)
    return {k: float(np.linalg.norm(grad(k) - full) / np.linalg.norm(full)) for k in ks}


def draw_cut(out: object, written: list[str], rng: np.random.Generator) -> bool:
    """The graph of the last window of a T = 6, k = 3 run: the cut edge is drawn."""
    try:
        from tinygrad_rnn import viz
    except ImportError as error:
        print(f"note: no graph drawn ({error})")
        return False
    model = Elman(1.0, rng, dtype=np.float64, phi="tanh")
    xs = rng.normal(size=(6, 1, 1))
    kept: list[tg.Tensor] = []  # keep window 1 alive so the renderer can show what was cut
    losses: list[tg.Tensor] = []

    def step(t: int, s: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        with tg.scope(f"t={t + 1}"):
            s = model.step(xs[t], s)
            kept.append(s)
            e = ((s @ model.W_y) ** 2).sum()
            losses.append(e)
            return e, s

    truncated_bptt(step, 6, tg.Tensor(np.zeros((1, H))), 3)
    last_window = losses[3] + losses[4] + losses[5]
    graph = viz.draw(last_window, view="ops", params={"W_x": model.W_x, "W_s": model.W_s,
                                                      "b": model.b, "W_y": model.W_y},
                     title="truncated BPTT, k = 3: window 2; the cut edge from s_3 is marked")
    render_graph(graph, out, "truncated_graph", written)  # type: ignore[arg-type]
    return True


def main() -> None:
    args = parse_args("06_clipping_truncation", __doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    T = 40
    series = tasks.noisy_sine(1500, rng=rng)
    data = tasks.sliding_windows(series, T)
    steps = 50 if args.quick else 400

    runs = {mode: train(mode, data, steps, args.seed) for mode in ("none", "value", "norm")}
    print(f"ReLU Elman RNN, H = {H}, T = {T}, W_s with spectral radius ≈ 2, SGD lr 0.01, "
          f"{steps} steps:")
    for mode, r in runs.items():
        finite = [v for v in r["loss"] if np.isfinite(v)]
        bad = r["first_nonfinite"]
        print(f"  clip {mode:5s}: loss {r['loss'][0]:.3g} -> {r['loss'][-1]:.3g}   "
              f"largest gradient norm {max(n for n in r['norm'] if np.isfinite(n)):.3g}   "
              + (f"NaN/inf from step {bad}" if bad is not None else "finite throughout")
              + f"   (best finite loss {min(finite):.3g})")
    if runs["none"]["anomaly"]:
        a = runs["none"]["anomaly"]
        print(f"  anomaly mode, no clipping, step {a['step']}: {a['message']}")

    T_trunc = 24 if args.quick else 48
    ks = [k for k in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48) if k <= T_trunc]
    study = {gain: truncation_study(gain, T_trunc, ks, np.random.default_rng(args.seed + 7))
             for gain in (0.5, 1.5)}
    print(f"\ntruncated BPTT, tanh RNN, T = {T_trunc}: ‖g_k − g_full‖ / ‖g_full‖ for ∂L/∂W_s")
    print("  k        " + " ".join(f"{k:>7d}" for k in ks))
    for gain, rel in study.items():
        print(f"  ρ(W_s)≈{gain:<3g} " + " ".join(f"{rel[k]:7.1e}" for k in ks))
    print("  (k = T is full BPTT: zero difference; with a small W_s the far paths vanish, "
          "so truncation changes little)")

    written: list[str] = []
    drawn = draw_cut(args.out, written, np.random.default_rng(args.seed + 3))
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        for mode, r in runs.items():
            loss = np.where(np.isfinite(r["loss"]), r["loss"], np.nan)
            axes[0].semilogy(loss, label=f"clip {mode}")
            axes[1].semilogy(np.where(np.isfinite(r["norm"]), r["norm"], np.nan),
                             label=f"clip {mode}")
            if r["first_nonfinite"] is not None:
                axes[0].axvline(r["first_nonfinite"], color="C3", ls=":", lw=1)
                axes[0].text(r["first_nonfinite"], np.nanmax(loss), " NaN", color="C3",
                             va="top")
        axes[0].set(title="training loss (gaps: NaN/inf)", xlabel="step")
        axes[1].axhline(5.0, color="grey", ls="--", lw=1, label="norm threshold")
        axes[1].set(title="gradient norm before clipping", xlabel="step")
        for ax in axes[:2]:
            ax.legend(fontsize=8)
        cut = [k for k in ks if k < T_trunc]  # k = T is full BPTT: exactly 0, off a log axis
        for gain, rel in study.items():
            axes[2].loglog(cut, [rel[k] for k in cut], "o-",
                           label=f"spectral radius of W_s ≈ {gain}")
        axes[2].set(title=f"truncated vs full BPTT (T = {T_trunc}; k = T gives 0)",
                    xlabel="window k", ylabel="‖g_k − g_T‖ / ‖g_T‖")
        axes[2].set_xticks(cut, [str(k) for k in cut])
        axes[2].minorticks_off()
        axes[2].legend(fontsize=8)
        fig.tight_layout()
        save(fig, args.out, "clipping_truncation", written)
    print("written:", ", ".join(written) if written else "none")
    result(**{f"{mode}_first_nonfinite": r["first_nonfinite"] for mode, r in runs.items()},
           **{f"{mode}_weights_finite": r["weights_finite"] for mode, r in runs.items()},
           **{f"{mode}_loss_first": r["loss"][0] for mode, r in runs.items()},
           **{f"{mode}_loss_last": r["loss"][-1] for mode, r in runs.items()},
           max_grad_norm=max(n for n in runs["none"]["norm"] if np.isfinite(n)),
           anomaly=({k: v for k, v in runs["none"]["anomaly"].items() if k != "message"}
                    if runs["none"]["anomaly"] else None),
           truncation_T=T_trunc,
           truncation_rel_diff={str(g): {str(k): v for k, v in rel.items()}
                                for g, rel in study.items()},
           graph_drawn=drawn)


if __name__ == "__main__":
    main()
