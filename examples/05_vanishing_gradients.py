"""5. Vanishing and exploding gradients (curriculum §4-6): plain RNN vs GRU vs LSTM on a task
with a dependency N steps long -- recall the symbol shown at t = 1 after N steps of
distractors (``tasks.recall_task``; chance is 1/4).

Two measurements:

1. The gradient norm against t: ‖∂L/∂h_t‖ for a loss at the last step, read off the
   unrolled graph (every h_t keeps its .grad after backward). The product
   Π ∂h_j/∂h_{j−1} = Π diag(φ'(·)) W_hhᵀ makes it fall geometrically with the gap, at
   initialisation and after training.
2. The largest N each cell learns: train a fresh model for every N of a sweep with the same
   budget and call N learned when the test accuracy reaches 90% (in at least half of the
   runs). A cell's sweep stops after one (quick) or two (full) gaps in a row without
   success. The lectures say a plain RNN manages about 8-10 steps; this prints what we
   measure (and with which optimizer, budget and initialisation: the answer depends on them).

Cells: RNN (tanh), GRU, LSTM with PyTorch's initialisation, and LSTM with the forget-gate
bias set to 1 (the usual recommendation, so that c is kept by default).

    python examples/05_vanishing_gradients.py [--quick] [--seed S] [--out DIR]
        [--optimizer adam|sgd|both] [--seeds K] [--steps STEPS] [--gaps 5,10,20]
"""

from __future__ import annotations

import argparse

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, progress, pyplot, result, save

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, tasks
from tinygrad_rnn.bptt import analysis
from tinygrad_rnn.functional import cross_entropy

HIDDEN, SYMBOLS, DISTRACTORS = 32, 4, 4
LEARNED = 0.9  # test accuracy that counts as "learned" (chance: 0.25)
CELLS = ("rnn", "gru", "lstm", "lstm_fb1")
LABELS = {"rnn": "RNN (tanh)", "gru": "GRU", "lstm": "LSTM",
          "lstm_fb1": "LSTM, forget bias 1"}


class Recall(nn.Module):
    """A recurrent layer, then Linear(H, 4) on the last step's output (many-to-one)."""

    def __init__(self, cell: str, seed: int) -> None:
        super().__init__()
        inputs = SYMBOLS + DISTRACTORS
        if cell == "rnn":
            self.rnn: nn.Module = nn.RNN(inputs, HIDDEN, rng=seed)
        elif cell == "gru":
            self.rnn = nn.GRU(inputs, HIDDEN, rng=seed)
        else:
            self.rnn = nn.LSTM(inputs, HIDDEN, rng=seed)
            if cell == "lstm_fb1":  # gate order i, f, g, o: rows H..2H are the forget gate
                p = dict(self.rnn.named_parameters())
                b_ih, b_hh = p["bias_ih_l0"].data.copy(), p["bias_hh_l0"].data.copy()
                b_ih[HIDDEN:2 * HIDDEN], b_hh[HIDDEN:2 * HIDDEN] = 0.0, 1.0  # b_f = 1 in all
                p["bias_ih_l0"].data, p["bias_hh_l0"].data = b_ih, b_hh
        self.out = nn.Linear(HIDDEN, SYMBOLS, rng=seed + 1)

    def forward(self, x: np.ndarray) -> tg.Tensor:
        h, _ = self.rnn(tg.Tensor(x))
        return self.out(h[-1])


def state_grad_norms(loss: tg.Tensor, name: str = "h") -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 1..T after ``loss.backward()``: the norm of each sequence's
    gradient, averaged over the batch.

    The layers name each new state "h" (and "c") and open a scope "t=<t>" per step;
    ``bptt.analysis.state_grad_norms`` finds them in the graph (their .grad was kept).
    """
    steps = analysis.state_grad_norms(loss, names=(name,))
    return np.array([np.linalg.norm(s.grad, axis=-1).mean() for s in steps])


def gradient_profile(model: Recall, steps: int, rng: np.random.Generator
                     ) -> dict[str, np.ndarray]:
    data = tasks.recall_task(64, steps - 1, SYMBOLS, DISTRACTORS, rng=rng)
    loss = cross_entropy(model(data.x), data.y)
    loss.backward()
    model.zero_grad()
    norms = {"h": state_grad_norms(loss, "h")}
    if isinstance(model.rnn, nn.LSTM):
        norms["c"] = state_grad_norms(loss, "c")
    return norms


def accuracy(model: Recall, data: tasks.RecallData) -> float:
    with tg.no_grad():
        return float((model(data.x).data.argmax(1) == data.y).mean())


def train(cell: str, gap: int, seed: int, steps: int, optimizer: str
          ) -> tuple[float, int, Recall]:
    """Train a fresh model on gap N; stop early once the test accuracy passes 97%."""
    rng = np.random.default_rng([seed, gap])
    model = Recall(cell, seed)
    opt: optim.Optimizer = optim.Adam(model.parameters(), lr=0.01) if optimizer == "adam" \
        else optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    test = tasks.recall_task(256, gap, SYMBOLS, DISTRACTORS, rng=rng)
    acc, used = accuracy(model, test), 0
    for used in range(1, steps + 1):
        data = tasks.recall_task(32, gap, SYMBOLS, DISTRACTORS, rng=rng)
        loss = cross_entropy(model(data.x), data.y)
        loss.backward(keep_grads=False)
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        if used % 25 == 0:
            acc = accuracy(model, test)
            if acc >= 0.97:
                break
    return accuracy(model, test), used, model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", choices=("adam", "sgd", "both"), default=None,
                        help="default: adam in --quick mode, both otherwise")
    parser.add_argument("--seeds", type=int, default=None,
                        help="training runs per (cell, N); default 1 quick, 3 full")
    parser.add_argument("--steps", type=int, default=None,
                        help="training budget per run; default 100 quick, 1500 full")
    parser.add_argument("--gaps", default=None,
                        help="comma-separated N; default 5,10,15 quick, "
                             "5,10,15,20,30,40,60,80,100 full")


def main() -> None:
    args = parse_args("05_vanishing_gradients", __doc__.splitlines()[0], add_arguments)
    quick = args.quick
    optimizers = ["adam", "sgd"] if (args.optimizer or ("adam" if quick else "both")) == "both" \
        else [args.optimizer or "adam"]
    seeds = args.seeds or (1 if quick else 3)
    budget = args.steps or (100 if quick else 1500)
    gaps = [int(g) for g in (args.gaps or ("5,10,15" if quick else
                                           "5,10,15,20,30,40,60,80,100")).split(",")]
    profile_steps = 40 if quick else 60
    rng = np.random.default_rng(args.seed)

    # 1. the gradient against t at initialisation
    at_init = {cell: gradient_profile(Recall(cell, args.seed), profile_steps, rng)
               for cell in CELLS}
    print(f"‖∂L/∂h_t‖ at initialisation, loss at t = T = {profile_steps} (mean over 64 "
          f"sequences):")
    decay = {}
    for cell, norms in at_init.items():
        g = norms["h"]
        decay[cell] = float((g[0] / g[-1]) ** (1 / (len(g) - 1)))  # per-step factor
        print(f"  {LABELS[cell]:20s} t=T: {g[-1]:.1e}   t=T-10: {g[-11]:.1e}   t=1: {g[0]:.1e}"
              f"   mean factor per step back: {decay[cell]:.3f}")

    # 2. the largest N each cell learns, with the same budget for all
    print(f"\nlearning to recall after N steps: {budget} training steps (batch 32), "
          f"{seeds} run(s) per N, learned = test accuracy >= {LEARNED}")
    table: dict[str, dict[str, dict[int, list[float]]]] = {}
    trained: dict[str, tuple[int, Recall]] = {}
    jobs = [(o, c, g, s) for o in optimizers for c in CELLS for g in gaps for s in range(seeds)]
    # stop a cell's sweep after `patience` gaps in a row that no run learned (longer gaps
    # cost the most and, with the same budget, rarely succeed after that)
    patience = 1 if quick else 2
    misses: dict[tuple[str, str], int] = {}
    for opt_name, cell, gap, s in progress(jobs, "sweep"):
        if misses.get((opt_name, cell), 0) >= patience:
            continue
        acc, used, model = train(cell, gap, args.seed + 1000 * s, budget, opt_name)
        runs = table.setdefault(opt_name, {}).setdefault(cell, {}).setdefault(gap, [])
        runs.append(acc)
        if acc >= LEARNED and opt_name == optimizers[0] and s == 0:
            trained[cell] = (gap, model)
        if s == seeds - 1:
            learned_any = any(a >= LEARNED for a in runs)
            misses[(opt_name, cell)] = 0 if learned_any else misses.get((opt_name, cell), 0) + 1

    largest: dict[str, dict[str, int]] = {}
    for opt_name, cells in table.items():
        print(f"  optimizer {opt_name}:  " + "  ".join(f"N={g:<4d}" for g in gaps))
        largest[opt_name] = {}
        for cell in CELLS:
            row = cells.get(cell, {})
            cols = []
            best = 0
            for gap in gaps:
                accs = row.get(gap)
                if accs is None:
                    cols.append("  -   ")
                    continue
                share = np.mean([a >= LEARNED for a in accs])
                cols.append(f"{np.mean(accs):.2f}" + ("*" if share >= 0.5 else " ") + " ")
                if share >= 0.5:
                    best = gap
            largest[opt_name][cell] = best
            print(f"    {LABELS[cell]:20s} " + " ".join(cols) + f"  largest N learned: {best}")
    print(f"  (mean test accuracy; * = learned by at least half of the runs; - = not run: "
          f"the sweep of a cell stops after {patience} gap(s) in a row that no run learned)")

    # 3. the gradient against t after training: the learned dynamics
    after = {cell: gradient_profile(model, profile_steps, rng)
             for cell, (_, model) in trained.items()}
    for cell, norms in after.items():
        g = norms["h"]
        print(f"  after training on N={trained[cell][0]}: {LABELS[cell]:20s} "
              f"‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = {g[0] / g[-1]:.1e}")

    written: list[str] = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
        t = np.arange(1, profile_steps + 1)
        for i, cell in enumerate(CELLS):  # relative to t = T: the loss's own scale cancels
            h = at_init[cell]["h"]
            axes[0].semilogy(t, h / h[-1], color=f"C{i}", label=LABELS[cell])
            if "c" in at_init[cell]:
                axes[0].semilogy(t, at_init[cell]["c"] / h[-1], color=f"C{i}", ls=":", lw=1)
            if cell in after:
                h = after[cell]["h"]
                axes[1].semilogy(t, h / h[-1], color=f"C{i}",
                                 label=f"{LABELS[cell]} (trained on N={trained[cell][0]})")
        axes[0].set(title="‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ at initialisation (dotted: c_t)",
                    xlabel="time step t (loss at t = T)")
        axes[1].set(title="‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ after training",
                    xlabel="time step t (loss at t = T)")
        for ax in axes[:2]:
            ax.legend(fontsize=8)
        opt_name = optimizers[0]
        for i, cell in enumerate(CELLS):
            row = table.get(opt_name, {}).get(cell, {})
            xs = [g for g in gaps if g in row]
            axes[2].plot(xs, [np.mean(row[g]) for g in xs], "o-", color=f"C{i}",
                         label=LABELS[cell])
        axes[2].axhline(LEARNED, color="grey", ls="--", lw=1)
        axes[2].axhline(1 / SYMBOLS, color="grey", ls=":", lw=1, label="chance")
        axes[2].set(title=f"test accuracy after {budget} steps ({opt_name})", xscale="log",
                    xlabel="N (steps between the symbol and the answer)", ylim=(0, 1.05))
        axes[2].set_xticks(gaps, [str(g) for g in gaps])
        axes[2].minorticks_off()
        axes[2].legend(fontsize=8)
        fig.tight_layout()
        save(fig, args.out, "vanishing_gradients", written)
    print("figures:", ", ".join(written) if written else "none")
    result(profile_steps=profile_steps, budget=budget, seeds=seeds, gaps=gaps,
           decay_per_step=decay,
           grad_ratio_first_last_init={c: float(v["h"][0] / v["h"][-1])
                                       for c, v in at_init.items()},
           grad_ratio_first_last_trained={c: float(v["h"][0] / v["h"][-1])
                                          for c, v in after.items()},
           largest_n_learned=largest,
           accuracy={o: {c: {str(g): float(np.mean(a)) for g, a in row.items()}
                         for c, row in cells.items()} for o, cells in table.items()})


if __name__ == "__main__":
    main()
