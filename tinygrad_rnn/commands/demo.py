"""``tinygrad-rnn demo``: unroll an Elman RNN built from primitives, backpropagate, and
print ∂L/∂h_t for every time step -- watch the gradient shrink as it travels back in time.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_rnn as tg

HELP = "unroll a small RNN, run backward and show the gradient at every time step"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=12, help="sequence length T (default 12)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden size H (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    from tinygrad_rnn.cli import CommandError

    if args.steps < 1 or args.hidden < 1:
        raise CommandError("--steps and --hidden must be positive")
    rng = np.random.default_rng(args.seed)
    T, H, input_size = args.steps, args.hidden, 3
    W_x = tg.Tensor(rng.normal(0, 0.5, (input_size, H)), requires_grad=True, name="W_x")
    W_s = tg.Tensor(rng.normal(0, 0.5 / np.sqrt(H), (H, H)), requires_grad=True, name="W_s")
    xs = rng.normal(size=(T, 1, input_size))
    s = tg.zeros(1, H, dtype=np.float64)
    states = []
    for t in range(1, T + 1):  # the unrolled loop: the same W_x, W_s at every step
        with tg.scope(f"t={t}"):
            s = (tg.Tensor(xs[t - 1], name="x") @ W_x + s @ W_s).tanh()
            s.name = "s"
            states.append(s)
    loss = (s * s).sum()  # a loss on the last state only: gradient must travel back in time
    loss.backward()
    print(f"Elman RNN, T={T}, H={H}: L = |s_T|^2 = {loss.item():.4f}")
    print(f"{'t':>4}  {'|dL/ds_t|':>12}")
    for t, s_t in enumerate(states, start=1):
        assert s_t.grad is not None
        norm = float(np.linalg.norm(s_t.grad))
        print(f"{t:>4}  {norm:12.3e}  {'#' * max(0, int(40 + 4 * np.log10(norm + 1e-300)))}")
    print(f"|dL/dW_s| = {np.linalg.norm(W_s.grad):.4f}: the sum of {T} per-step contributions")
    return 0
