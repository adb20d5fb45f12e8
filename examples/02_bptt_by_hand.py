"""2. BPTT by hand vs autodiff (curriculum §2-3): the lectures' t = 3 example.

The Elman RNN in the lectures' notation (row vectors, s_0 = 0):

    s_t = tanh(x_t·W_x + s_{t−1}·W_s),   y_t = s_t·W_y,   E_3 = (d_3 − y_3)²

By hand (``bptt.reference.elman_bptt_terms``), one term per path back in time:

    ∂E_3/∂W_y = ∂E_3/∂y_3 · ∂y_3/∂W_y                               (one term: no travel back)
    ∂E_3/∂W_s = Σ_{i=1..3} ∂E_3/∂y_3 · ∂y_3/∂s_3 · (Π_{j=i+1..3} ∂s_j/∂s_{j−1}) · ∂s_i/∂W_s
    ∂E_3/∂W_x = the same sum with ∂s_i/∂W_x at the end

By the engine: the loop below uses the *same* W_s at t = 1, 2, 3, and ``backward()`` adds
the gradient of every use. ``backward(contributions=True)`` keeps each use's share, and
``bptt.analysis.contributions`` lists them by time step: they are the path terms above.

    python examples/02_bptt_by_hand.py [--quick] [--seed S] [--out DIR]
"""

from __future__ import annotations

import _blas_threads  # noqa: F401  (first: one BLAS thread, see _blas_threads.py)
import numpy as np
from _common import parse_args, pyplot, render_graph, result, save

import tinygrad_rnn as tg
from tinygrad_rnn.bptt import analysis, reference

I, H, O = 2, 3, 1  # input, state and output sizes: small enough to print every number


def unroll(xs: np.ndarray, d: np.ndarray, W_x: tg.Tensor, W_s: tg.Tensor, W_y: tg.Tensor,
           losses: list[int]) -> tuple[tg.Tensor, list[tg.Tensor]]:
    """The Elman RNN as a plain loop; returns E = Σ_{N in losses} E_N and the states."""
    s = tg.Tensor(np.zeros((xs.shape[1], H)), name="s_0")  # s_0 = 0
    states, loss = [], None
    for t in range(1, len(xs) + 1):
        with tg.scope(f"t={t}"):
            x = tg.Tensor(xs[t - 1], name="x")
            s = (x @ W_x + s @ W_s).tanh()  # the same W_x, W_s at every step
            s.name = "s"
            states.append(s)
            if t in losses:
                y = s @ W_y
                y.name = "y"
                target = tg.Tensor(d[t - 1], name=f"d_{t}")
                e = ((target - y) ** 2).sum()  # E_t = (d_t − y_t)²
                e.name = f"E_{t}"
                loss = e if loss is None else loss + e
    assert loss is not None
    return loss, states


def show(name: str, array: np.ndarray) -> str:
    return f"{name} = " + np.array2string(array, precision=5, suppress_small=True,
                                          separator=", ").replace("\n", "")


def main() -> None:
    args = parse_args("02_bptt_by_hand", __doc__.splitlines()[0])
    rng = np.random.default_rng(args.seed)
    T = 3
    W = {"W_x": rng.normal(0, 0.8, (I, H)), "W_s": rng.normal(0, 0.8, (H, H)),
         "W_y": rng.normal(0, 0.8, (H, O))}
    xs, d = rng.normal(size=(T, 1, I)), rng.normal(size=(T, 1, O))
    params = {k: tg.Tensor(v, requires_grad=True, name=k) for k, v in W.items()}

    E3, states = unroll(xs, d, params["W_x"], params["W_s"], params["W_y"], losses=[3])
    E3.backward(contributions=True)  # the engine: one generic graph walk
    terms = reference.elman_bptt_terms(xs, d, W["W_x"], W["W_s"], W["W_y"], losses=3)

    print(f"Elman RNN, T = {T}, I = {I}, H = {H}, O = {O};  E_3 = {E3.item():.6f}")
    worst_term = worst_total = 0.0
    for name in ("W_y", "W_s", "W_x"):
        p = params[name]
        assert p.grad is not None
        table = analysis.contributions(p, name)
        print(f"\n∂E_3/∂{name}:")
        if name == "W_y":
            hand_terms = [terms.W_y[3]]
            labels = ["∂E_3/∂y_3 · ∂y_3/∂W_y (at t=3)"]
        else:
            hand_terms = terms.paths(name, 3)
            labels = [f"path through s_{i}" + (" (s_0 = 0: zero)" if name == "W_s" and i == 1
                                                else "") for i in range(1, 4)]
        engine_terms = [row.grad for row in table]
        assert len(engine_terms) == len(hand_terms), (name, len(engine_terms))
        for label, hand, row in zip(labels, hand_terms, table, strict=True):
            diff = float(np.abs(row.grad - hand).max())
            worst_term = max(worst_term, diff)
            print(f"  {label:34s} hand {show('', hand.ravel())[3:]}")
            print(f"  {'engine, use at ' + row.scope:34s}      "
                  f"{show('', row.grad.ravel())[3:]}   |diff| {diff:.1e}")
        hand_total = sum(hand_terms)
        diff = float(np.abs(p.grad - hand_total).max())
        worst_total = max(worst_total, diff)
        print(f"  {'sum of the terms (hand)':34s}      {show('', hand_total.ravel())[3:]}")
        print(f"  {name + '.grad (engine)':34s}      {show('', p.grad.ravel())[3:]}"
              f"   |diff| {diff:.1e}")

    print("\nhow a path scales with its length: ‖∂s_3/∂s_i‖ = ‖Π_j diag(1 − s_j²) W_sᵀ‖ "
          "(a product of factors: below 1 they vanish, above 1 they explode)")
    for i in (3, 2, 1):
        print(f"  i = {i}: {np.linalg.norm(terms.ds_ds[(3, i)][0], 2):.4f}")
    print("the engine keeps ∂E_3/∂s_t on every state:")
    for t, s in enumerate(states, start=1):
        assert s.grad is not None
        print(f"  t = {t}: {show('∂E_3/∂s_' + str(t), s.grad[0])}   "
              f"hand {show('', terms.dE_ds[(3, t)][0])[3:]}")

    # the general case: every loss E_1..E_T, longer sequence, batch of 4
    T_long = 8 if args.quick else 20
    xs_l, d_l = rng.normal(size=(T_long, 4, I)), rng.normal(size=(T_long, 4, O))
    params_l = {k: tg.Tensor(v, requires_grad=True, name=k) for k, v in W.items()}
    L, _ = unroll(xs_l, d_l, params_l["W_x"], params_l["W_s"], params_l["W_y"],
                  losses=list(range(1, T_long + 1)))
    L.backward()
    hand = reference.elman_bptt(xs_l, d_l, W["W_x"], W["W_s"], W["W_y"])
    general = max(float(np.abs(params_l[k].grad - hand[k]).max()) for k in W)  # type: ignore
    print(f"\nL = Σ_t E_t over T = {T_long}, batch 4: max |engine − Σ of path terms| = "
          f"{general:.1e} over W_x, W_s, W_y")

    written: list[str] = []
    graphs = 0
    try:
        from tinygrad_rnn import viz

        for view in ("ops", "cells"):
            graph = viz.draw(E3, view=view, show="norm" if view == "ops" else "none",
                             params=params, title=f"E_3 of the Elman RNN ({view} view): "
                                                  f"colour = ‖gradient‖")
            render_graph(graph, args.out, f"unrolled_{view}", written)
            graphs += 1
    except ImportError as error:  # graphviz (the Python package) is a dependency; be safe
        print(f"note: no graph drawn ({error})")
    plt = pyplot()
    if plt is not None:
        from tinygrad_rnn import plots

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
        for ax, name in zip(axes, ("W_s", "W_x"), strict=True):
            plots.plot_contributions(analysis.contributions(params[name], name), ax=ax,
                                     title=f"terms of ∂E_3/∂{name}: one per use")
        save(fig, args.out, "contributions", written)
    print("written:", ", ".join(written) if written else "none")
    result(E_3=E3.item(), max_term_diff=worst_term, max_total_diff=worst_total,
           terms={k: len(analysis.contributions(params[k])) for k in W},
           general_T=T_long, general_max_diff=general, graphs=graphs,
           jacobian_norms=[float(np.linalg.norm(terms.ds_ds[(3, i)][0], 2))
                           for i in (1, 2, 3)])


if __name__ == "__main__":
    main()
