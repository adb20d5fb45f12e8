"""The hand-derived gradients of tinygrad_rnn.bptt.reference vs float64 finite differences.

Every backward formula is checked against central differences of its own forward pass,
computed here; the O(T²) path sum against the O(T) recursion; the path terms one by one
against untied copies of the weight; the torch-layout cells against torch (if installed).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_rnn.bptt import reference as ref

RTOL, ATOL = 1e-6, 1e-8
WORST = {"rel": 0.0, "what": ""}  # the largest relative difference seen (printed at the end)


@pytest.fixture(scope="module", autouse=True)
def _report_worst():
    yield
    print(
        f"\nlargest relative difference vs finite differences: {WORST['rel']:.2e} ({WORST['what']})"
    )


def numeric_grad(f, array, eps=1e-5):
    """∂f/∂array by central differences, f() -> float reading ``array`` (changed in place)."""
    grad = np.zeros(array.shape)
    for idx in np.ndindex(array.shape):
        old = array[idx]
        array[idx] = old + eps
        f_plus = f()
        array[idx] = old - eps
        f_minus = f()
        array[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def assert_grad_close(analytic, numeric, what):
    """|analytic − numeric| ≤ RTOL · (largest entry) + ATOL, element-wise over the array."""
    analytic = np.asarray(analytic, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    scale = max(np.abs(analytic).max(initial=0.0), np.abs(numeric).max(initial=0.0))
    err = np.abs(analytic - numeric).max(initial=0.0)
    assert err <= RTOL * scale + ATOL, f"{what}: max |diff| {err:.3e} at scale {scale:.3e}"
    if scale > 1e-4 and err / scale > WORST["rel"]:
        WORST.update(rel=err / scale, what=what)


def check_all(grads, arrays, f, prefix=""):
    """Every ``grads["d" + name]`` (or ``grads[name]``) against the numeric gradient of f."""
    for name, array in arrays.items():
        key = name if name in grads else "d" + name
        assert_grad_close(grads[key], numeric_grad(f, array), prefix + name)


dims = st.fixed_dictionaries(
    {
        "T": st.integers(1, 5),
        "B": st.integers(1, 3),
        "I": st.integers(1, 4),
        "H": st.integers(1, 4),
        "O": st.integers(1, 4),
        "seed": st.integers(0, 2**32 - 1),
    }
)
SETTINGS = settings(max_examples=40, deadline=None)


# ---- the Elman RNN: path sum, recursion, the t = 3 example -------------------------------


def elman_problem(T, B, I, H, O, seed, bias=True, s0=True):
    rng = np.random.default_rng(seed)
    return {
        "xs": rng.normal(size=(T, B, I)),
        "d": rng.normal(size=(T, B, O)),
        "W_x": rng.normal(0, 0.6, (I, H)),
        "W_s": rng.normal(0, 0.6, (H, H)),
        "W_y": rng.normal(0, 0.6, (H, O)),
        "s0": rng.normal(0, 0.5, (B, H)) if s0 else None,
        "b": rng.normal(0, 0.3, H) if bias else None,
    }


@SETTINGS
@given(dims, st.booleans(), st.booleans(), st.data())
def test_elman_path_sum_matches_finite_differences(dim, bias, s0, data):
    p = elman_problem(**dim, bias=bias, s0=s0)
    losses = data.draw(st.one_of(st.just("all"), st.integers(1, dim["T"])), label="losses")
    grads = ref.elman_bptt(**p, losses=losses)

    expected = {"W_x", "W_s", "W_y", "xs"} | {k for k in ("b", "s0") if p[k] is not None}
    assert set(grads) == expected
    arrays = {k: p[k] for k in expected}
    check_all(grads, arrays, lambda: ref.elman_loss(**p, losses=losses), "elman ")


@SETTINGS
@given(dims, st.booleans(), st.sampled_from(["all", 1, 2, 3, 4, 5]))
def test_elman_path_sum_equals_recursion(dim, bias, losses):
    if losses != "all" and losses > dim["T"]:
        losses = dim["T"]
    p = elman_problem(**dim, bias=bias)
    paths = ref.elman_bptt(**p, losses=losses)
    recursion = ref.elman_bptt_recursive(**p, losses=losses)
    assert set(paths) == set(recursion)
    for name in paths:
        np.testing.assert_allclose(paths[name], recursion[name], rtol=1e-12, atol=1e-12)


def untied_loss(p, N, name, i, copy):
    """E_N of the Elman RNN where the use of weight ``name`` at step i is replaced by ``copy``.

    The forward is written out again here (not elman_forward), one step at a time.
    """
    s = p["s0"] if p["s0"] is not None else np.zeros((p["xs"].shape[1], p["W_s"].shape[0]))
    for t in range(1, N + 1):
        W = {k: p[k] for k in ("W_x", "W_s", "b")}
        if t == i:
            W[name] = copy
        pre = p["xs"][t - 1] @ W["W_x"] + s @ W["W_s"]
        s = np.tanh(pre if W["b"] is None else pre + W["b"])
    return np.sum((p["d"][N - 1] - s @ p["W_y"]) ** 2)


@SETTINGS
@given(dims, st.booleans())
def test_t3_example_three_paths_each_an_untied_copy(dim, s0):
    """E_3: three path terms per recurrent weight; term i is the gradient wrt a copy used at i."""
    p = elman_problem(**{**dim, "T": 3}, s0=s0)
    terms = ref.elman_bptt_terms(**p, losses=3)
    assert terms.loss_steps == [3]
    assert list(terms.W_y) == [3]  # ∂E_3/∂W_y: one step of the chain rule, no paths
    for name in ("W_s", "W_x", "b"):
        assert sorted(terms.__dict__[name]) == [(3, 1), (3, 2), (3, 3)]
        total = sum(terms.paths(name, 3))
        assert_grad_close(
            total,
            numeric_grad(lambda: ref.elman_loss(**p, losses=3), p[name]),
            f"E_3 path sum {name}",
        )
        for i, term in enumerate(terms.paths(name, 3), start=1):
            copy = p[name].copy()

            def untied(name=name, i=i, copy=copy):
                return untied_loss(p, 3, name, i, copy)

            assert_grad_close(term, numeric_grad(untied, copy), f"E_3 path {i} {name}")
    if not s0:  # s_0 = 0: the use of W_s at step 1 multiplies zeros
        assert np.all(terms.W_s[(3, 1)] == 0)


@SETTINGS
@given(dims, st.data())
def test_elman_jacobian_products(dim, data):
    """ds_ds[(N, i)] = Π diag(1 − s_j²) W_sᵀ equals the numeric Jacobian ∂s_N/∂s_i."""
    p = elman_problem(**dim)
    T, B, H = dim["T"], dim["B"], dim["H"]
    N = data.draw(st.integers(1, T), label="N")
    i = data.draw(st.integers(1, N), label="i")
    terms = ref.elman_bptt_terms(**p, losses=N)
    states, _ = ref.elman_forward(p["xs"], p["W_x"], p["W_s"], p["W_y"], p["s0"], p["b"])
    s_i = states[i].copy()
    for b in range(B):
        for k in range(H):

            def s_N_k(b=b, k=k):  # run steps i+1..N from s_i, read s_N[b, k]
                rest, _ = ref.elman_forward(p["xs"][i:N], p["W_x"], p["W_s"], p["W_y"], s_i, p["b"])
                return rest[-1][b, k]

            row = numeric_grad(s_N_k, s_i)[b]
            assert_grad_close(terms.ds_ds[(N, i)][b, k], row, f"∂s_{N}/∂s_{i}")


def test_elman_losses_argument_is_checked():
    p = elman_problem(3, 1, 2, 2, 1, seed=0)
    for bad in (0, 4, "E_3"):
        with pytest.raises(ValueError):
            ref.elman_bptt(**p, losses=bad)
    both = ref.elman_bptt(**p, losses=[1, 3])
    assert_grad_close(
        both["W_s"],
        numeric_grad(lambda: ref.elman_loss(**p, losses=[1, 3]), p["W_s"]),
        "E_1 + E_3 W_s",
    )


# ---- the torch-layout cells --------------------------------------------------------------

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "simple_gru": 2, "lstm": 4, "peephole_lstm": 4}
CELL_FUNCTIONS = {
    "rnn_tanh": (ref.rnn_cell_forward, ref.rnn_cell_backward),
    "rnn_relu": (lambda *a: ref.rnn_cell_forward(*a, nonlinearity="relu"), ref.rnn_cell_backward),
    "gru": (ref.gru_forward, ref.gru_backward),
    "simple_gru": (ref.simple_gru_forward, ref.simple_gru_backward),
    "lstm": (ref.lstm_forward, ref.lstm_backward),
    "peephole_lstm": (ref.peephole_lstm_forward, ref.peephole_lstm_backward),
}


def cell_params(kind, I, H, rng, bias=True):
    G = GATES[kind]
    params = {
        "weight_ih": rng.normal(0, 0.6, (G * H, I)),
        "weight_hh": rng.normal(0, 0.6, (G * H, H)),
        "bias_ih": rng.normal(0, 0.3, G * H) if bias else None,
        "bias_hh": rng.normal(0, 0.3, G * H) if bias else None,
    }
    if kind == "peephole_lstm":
        params["weight_ch"] = rng.normal(0, 0.6, 3 * H)
    return params


def is_lstm(kind):
    return kind.endswith("lstm")


@pytest.mark.parametrize("kind", list(CELL_FUNCTIONS))
@SETTINGS
@given(dim=dims, bias=st.booleans(), zero_state=st.booleans())
def test_cell_backward_matches_finite_differences(kind, dim, bias, zero_state):
    rng = np.random.default_rng(dim["seed"])
    B, I, H = dim["B"], dim["I"], dim["H"]
    forward, backward = CELL_FUNCTIONS[kind]
    params = cell_params(kind, I, H, rng, bias)
    x = rng.normal(size=(B, I))
    states = {"h": rng.normal(size=(B, H))} | (
        {"c": rng.normal(size=(B, H))} if is_lstm(kind) else {}
    )
    upstream = {name: rng.normal(size=(B, H)) for name in states}  # dL/dh', dL/dc'

    def run():
        state = None if zero_state else (states["h"], states["c"]) if is_lstm(kind) else states["h"]
        return forward(x, state, *params.values())

    def loss():  # L = Σ h' ⊙ dh' (+ Σ c' ⊙ dc'): its gradient is the backward of the upstream
        new, _ = run()
        new = new if is_lstm(kind) else (new,)
        return sum(np.sum(s * u) for s, u in zip(new, upstream.values(), strict=True))

    _, cache = run()
    dnew = (upstream["h"], upstream["c"]) if is_lstm(kind) else upstream["h"]
    grads = backward(dnew, cache)
    arrays = {"x": x} | {k: v for k, v in params.items() if v is not None}
    if not zero_state:
        arrays |= {f"{n}_prev": a for n, a in states.items()}
    assert set(grads) == {"dx", "dh_prev"} | ({"dc_prev"} if is_lstm(kind) else set()) | {
        "d" + k for k, v in params.items() if v is not None
    }
    check_all(grads, arrays, loss, f"{kind} ")


def test_peephole_with_zero_peepholes_is_the_lstm():
    """Two separately written cells: the peephole LSTM with weight_ch = 0 is the LSTM."""
    rng = np.random.default_rng(7)
    p = cell_params("lstm", 3, 4, rng)
    x, state = rng.normal(size=(2, 3)), (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))
    dnew = (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))
    new, cache = ref.lstm_forward(x, state, *p.values())
    new_p, cache_p = ref.peephole_lstm_forward(x, state, *p.values(), np.zeros(12))
    np.testing.assert_allclose(new, new_p, rtol=1e-14)
    grads, grads_p = ref.lstm_backward(dnew, cache), ref.peephole_lstm_backward(dnew, cache_p)
    assert set(grads_p) - set(grads) == {"dweight_ch"}
    for k in grads:
        np.testing.assert_allclose(grads[k], grads_p[k], rtol=1e-13, atol=1e-15)


# ---- sequences ---------------------------------------------------------------------------

SEQUENCES = {
    "rnn_tanh": (ref.rnn_sequence_forward, ref.rnn_sequence_backward, {}),
    "rnn_relu": (ref.rnn_sequence_forward, ref.rnn_sequence_backward, {"nonlinearity": "relu"}),
    "gru": (ref.gru_sequence_forward, ref.gru_sequence_backward, {}),
    "simple_gru": (ref.simple_gru_sequence_forward, ref.simple_gru_sequence_backward, {}),
    "lstm": (ref.lstm_sequence_forward, ref.lstm_sequence_backward, {}),
    "peephole_lstm": (ref.peephole_lstm_sequence_forward, ref.peephole_lstm_sequence_backward, {}),
}


@pytest.mark.parametrize("kind", list(SEQUENCES))
@SETTINGS
@given(dim=dims, bias=st.booleans(), with_dhs=st.booleans(), with_final=st.booleans())
def test_sequence_backward_matches_finite_differences(kind, dim, bias, with_dhs, with_final):
    rng = np.random.default_rng(dim["seed"])
    T, B, I, H = dim["T"], dim["B"], dim["I"], dim["H"]
    forward, backward, options = SEQUENCES[kind]
    params = cell_params(kind, I, H, rng, bias)
    xs = rng.normal(size=(T, B, I))
    init = {"h0": rng.normal(size=(B, H))} | (
        {"c0": rng.normal(size=(B, H))} if is_lstm(kind) else {}
    )
    dhs = rng.normal(size=(T, B, H)) if with_dhs else None
    dfinal = [rng.normal(size=(B, H)) for _ in init] if with_final else None

    def state0():
        return (init["h0"], init["c0"]) if is_lstm(kind) else init["h0"]

    def loss():  # L = Σ_t Σ h_t ⊙ dhs_t + Σ (final state) ⊙ dfinal
        hs, final = forward(xs, state0(), *params.values(), **options)
        total = np.sum(hs * dhs) if with_dhs else 0.0
        if with_final:
            final = final if is_lstm(kind) else (final,)
            total += sum(np.sum(s * g) for s, g in zip(final, dfinal, strict=True))
        return total

    dstate_final = None if dfinal is None else tuple(dfinal) if is_lstm(kind) else dfinal[0]
    grads = backward(xs, state0(), *params.values(), dhs=dhs, dstate_final=dstate_final, **options)
    arrays = {"xs": xs} | init | {k: v for k, v in params.items() if v is not None}
    check_all(grads, arrays, loss, f"{kind} sequence ")


def test_sequence_with_zero_initial_state_and_defaults():
    rng = np.random.default_rng(3)
    p = cell_params("lstm", 2, 3, rng)
    xs = rng.normal(size=(4, 2, 2))
    hs, (h_T, _) = ref.lstm_sequence_forward(xs, None, *p.values())
    np.testing.assert_array_equal(hs[-1], h_T)
    grads = ref.lstm_sequence_backward(xs, None, *p.values())  # no upstream gradient at all
    assert all(np.all(g == 0) for g in grads.values())
    assert grads["dh0"].shape == grads["dc0"].shape == (2, 3)


@SETTINGS
@given(dims, st.booleans())
def test_elman_is_the_torch_layout_rnn(dim, bias):
    """Cross-check of two implementations: the lectures' W_x, W_s are weight_ih ᵀ, weight_hh ᵀ."""
    p = elman_problem(**dim, bias=bias)
    states, ys = ref.elman_forward(p["xs"], p["W_x"], p["W_s"], p["W_y"], p["s0"], p["b"])
    torch_layout = (p["W_x"].T, p["W_s"].T, p["b"], None)
    hs, h_T = ref.rnn_sequence_forward(p["xs"], p["s0"], *torch_layout)
    np.testing.assert_allclose(hs, states[1:], rtol=1e-13, atol=1e-15)

    dhs = -2.0 * (p["d"] - ys) @ p["W_y"].T  # ∂E/∂s_t from every E_t directly
    seq = ref.rnn_sequence_backward(p["xs"], p["s0"], *torch_layout, dhs=dhs)
    elman = ref.elman_bptt(**p)
    pairs = [
        ("W_x", seq["dweight_ih"].T),
        ("W_s", seq["dweight_hh"].T),
        ("xs", seq["dxs"]),
        ("s0", seq["dh0"]),
    ] + ([("b", seq["dbias_ih"])] if bias else [])
    for name, value in pairs:
        np.testing.assert_allclose(value, elman[name], rtol=1e-11, atol=1e-13, err_msg=name)


# ---- torch (optional) --------------------------------------------------------------------


def test_cells_match_torch():
    """Same weights in torch.nn.*Cell: same forward, and autograd gives our backward."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    B, I, H = 3, 4, 5
    makers = {
        "rnn_tanh": lambda: torch.nn.RNNCell(I, H, nonlinearity="tanh"),
        "rnn_relu": lambda: torch.nn.RNNCell(I, H, nonlinearity="relu"),
        "gru": lambda: torch.nn.GRUCell(I, H),
        "lstm": lambda: torch.nn.LSTMCell(I, H),
    }
    for kind, make in makers.items():
        params = cell_params(kind, I, H, rng)
        cell = make().double()
        with torch.no_grad():
            for name, value in params.items():
                getattr(cell, name).copy_(torch.from_numpy(value))
        x = rng.normal(size=(B, I))
        state = (
            (rng.normal(size=(B, H)), rng.normal(size=(B, H)))
            if is_lstm(kind)
            else (rng.normal(size=(B, H)))
        )
        forward, backward = CELL_FUNCTIONS[kind]
        new, cache = forward(x, state, *params.values())

        tx = torch.tensor(x, requires_grad=True)
        tstate = (
            tuple(torch.tensor(s, requires_grad=True) for s in state)
            if is_lstm(kind)
            else (torch.tensor(state, requires_grad=True),)
        )
        tnew = cell(tx, tstate if is_lstm(kind) else tstate[0])
        tnew = tnew if is_lstm(kind) else (tnew,)
        ours = new if is_lstm(kind) else (new,)
        for a, t in zip(ours, tnew, strict=True):
            np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-12, atol=1e-14)

        upstream = [rng.normal(size=(B, H)) for _ in tnew]
        torch.autograd.backward(list(tnew), [torch.from_numpy(u) for u in upstream])
        grads = backward(tuple(upstream) if is_lstm(kind) else upstream[0], cache)
        expect = (
            {"dx": tx.grad, "dh_prev": tstate[0].grad}
            | ({"dc_prev": tstate[1].grad} if is_lstm(kind) else {})
            | {"d" + name: getattr(cell, name).grad for name in params}
        )
        for key, t in expect.items():
            np.testing.assert_allclose(
                grads[key], t.numpy(), rtol=1e-11, atol=1e-13, err_msg=f"{kind} {key}"
            )
