"""Optimizers and clipping: hand-written NumPy update equations, torch.optim, errors, state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.functional import mse_loss

SHAPES = [(3, 4), (4,), ()]


def make_params(dtype: type = np.float64, seed: int = 0) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s), dtype=dtype) for s in SHAPES]


def grad_sequence(steps: int, dtype: type = np.float64, seed: int = 1,
                  missing: tuple[tuple[int, int], ...] = ()) -> list[list[np.ndarray | None]]:
    """A gradient per step and parameter; (step, param) pairs in ``missing`` get None."""
    rng = np.random.default_rng(seed)
    seq: list[list[np.ndarray | None]] = []
    for k in range(steps):
        row: list[np.ndarray | None] = []
        for i, s in enumerate(SHAPES):
            g = rng.standard_normal(s).astype(dtype)
            row.append(None if (k, i) in missing else g)
        seq.append(row)
    return seq


def run_ours(opt: optim.Optimizer, grads: list[list[np.ndarray | None]]) -> list[np.ndarray]:
    for row in grads:
        for p, g in zip(opt.params, row, strict=True):
            p.grad = None if g is None else g.copy()
        opt.step()
        assert all(isinstance(p.data, np.ndarray) for p in opt.params)  # 0-d stays an array
    return [p.data for p in opt.params]


# ---- hand-written reference updates (written from the equations, independently) ---------
def numpy_sgd(init, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    params = [a.copy() for a in init]
    bufs: list[np.ndarray | None] = [None] * len(params)
    for row in grads:
        for i, g in enumerate(row):
            if g is None:
                continue
            d = g + weight_decay * params[i]
            if momentum:
                if bufs[i] is None:
                    bufs[i] = d.copy()
                else:
                    bufs[i] = momentum * bufs[i] + (1 - dampening) * d
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = params[i] - lr * d
    return params


def numpy_adam(init, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    b1, b2 = betas
    params = [a.copy() for a in init]
    m = [np.zeros_like(a) for a in init]
    v = [np.zeros_like(a) for a in init]
    t = [0] * len(init)
    for row in grads:
        for i, g in enumerate(row):
            if g is None:
                continue
            t[i] += 1
            d = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            m_hat = m[i] / (1 - b1 ** t[i])
            v_hat_sqrt = np.sqrt(v[i]) / np.sqrt(1 - b2 ** t[i])
            params[i] = params[i] - lr * m_hat / (v_hat_sqrt + eps)
    return params


SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.02, momentum=0.5, weight_decay=0.1, nesterov=True),
    dict(lr=0.1, weight_decay=0.2),
]
ADAM_CONFIGS = [
    dict(),
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.5, 0.9)),
    dict(lr=0.003, weight_decay=0.1),
    dict(lr=0.1, eps=1e-3, betas=(0.0, 0.99)),
]
MISSING = ((1, 2), (2, 0), (3, 2))  # some parameters get no gradient on some steps


@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_matches_numpy_equations(config):
    init = make_params()
    grads = grad_sequence(6, missing=MISSING)
    expected = numpy_sgd([p.data for p in init], grads, **config)
    got = run_ours(optim.SGD(init, **config), grads)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_matches_numpy_equations(config):
    init = make_params()
    grads = grad_sequence(6, missing=MISSING)
    expected = numpy_adam([p.data for p in init], grads, **config)
    got = run_ours(optim.Adam(init, **config), grads)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_each_entry_by_about_lr():
    # A known property of Adam: at t = 1, m̂/√v̂ = g/|g|, so every entry moves by ~lr.
    p = nn.Parameter(np.array([3.0, -0.001, 50.0]), dtype=np.float64)
    opt = optim.Adam([p], lr=0.01)
    p.grad = np.array([2.0, -5.0, 1e-3])
    opt.step()
    np.testing.assert_allclose(p.data - [3.0, -0.001, 50.0], [-0.01, 0.01, -0.01], rtol=1e-4)


def test_plain_sgd_is_the_lecture_rule():
    p = nn.Parameter(np.array([[1.0, 2.0]]), dtype=np.float64)
    opt = optim.SGD([p], lr=0.5)
    p.grad = np.array([[4.0, -2.0]])
    opt.step()
    np.testing.assert_array_equal(p.data, [[-1.0, 3.0]])  # W − α ∂E/∂W


# ---- torch.optim parity ---------------------------------------------------------------------
def run_torch(name: str, config: dict, init: list[np.ndarray],
              grads: list[list[np.ndarray | None]]) -> list[np.ndarray]:
    torch = pytest.importorskip("torch")
    ps = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(torch.optim, name)(ps, **config)
    for row in grads:
        for p, g in zip(ps, row, strict=True):
            p.grad = None if g is None else torch.tensor(g.copy())
        opt.step()
    return [p.detach().numpy().copy() for p in ps]


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_matches_torch(config, dtype, rtol):
    pytest.importorskip("torch")
    init = make_params(dtype)
    grads = grad_sequence(6, dtype, missing=MISSING)
    expected = run_torch("SGD", config, [p.data for p in init], grads)
    got = run_ours(optim.SGD(init, **config), grads)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_matches_torch(config, dtype, rtol):
    pytest.importorskip("torch")
    init = make_params(dtype)
    grads = grad_sequence(6, dtype, missing=MISSING)
    expected = run_torch("Adam", config, [p.data for p in init], grads)
    got = run_ours(optim.Adam(init, **config), grads)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol)


@settings(max_examples=20, deadline=None)
@given(lr=st.floats(1e-4, 0.5), b1=st.floats(0.0, 0.99), b2=st.floats(0.5, 0.9999),
       eps=st.floats(1e-10, 1e-2), wd=st.sampled_from([0.0, 0.05]), seed=st.integers(0, 99))
def test_adam_matches_torch_property(lr, b1, b2, eps, wd, seed):
    pytest.importorskip("torch")
    config = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    init = make_params(seed=seed)
    grads = grad_sequence(4, seed=seed + 1)
    expected = run_torch("Adam", config, [p.data for p in init], grads)
    got = run_ours(optim.Adam(init, **config), grads)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_training_loop_matches_torch_end_to_end():
    """Gradients from our backward, then SGD with momentum: the same weights as torch."""
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1)).double()
    ref = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                              torch.nn.Linear(5, 2)).double()
    ref.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    rng = np.random.default_rng(3)
    x, d = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    ours = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    theirs = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(5):
        loss = mse_loss(model(tg.Tensor(x)), tg.Tensor(d))
        loss.backward()
        norm = optim.clip_grad_norm_(model.parameters(), 0.5)
        ours.step()
        ours.zero_grad()
        ref_loss = torch.nn.functional.mse_loss(ref(torch.tensor(x)), torch.tensor(d))
        ref_loss.backward()
        ref_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
        theirs.step()
        theirs.zero_grad()
        assert norm == pytest.approx(float(ref_norm), rel=1e-12)
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, ref.state_dict()[name].numpy(), rtol=1e-12)


def test_training_reduces_the_loss():
    model = nn.Sequential(nn.Linear(2, 16, rng=0), nn.Tanh(), nn.Linear(16, 1, rng=1))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 2)).astype(np.float32)
    d = (x[:, :1] * x[:, 1:]).astype(np.float32)
    opt = optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        loss = mse_loss(model(tg.Tensor(x)), tg.Tensor(d))
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert all(p.dtype == np.float32 for p in model.parameters())


# ---- semantics: dtype, skipping, no in-place changes -----------------------------------------
@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
])
def test_step_keeps_dtype_skips_missing_grads_and_never_mutates(make):
    params = make_params(np.float32)
    opt = make(params)
    before = [p.data for p in params]
    snapshot = [a.copy() for a in before]
    grads = [np.ones(s, np.float32) for s in SHAPES]
    params[0].grad, params[1].grad = grads[0], grads[1]  # params[2] has no gradient
    opt.step()
    for p in params:
        assert isinstance(p.data, np.ndarray) and p.data.dtype == np.float32  # 0-d too
    for key, value in opt.state[0].items():
        assert isinstance(value, np.ndarray), key
    for b, s in zip(before, snapshot, strict=True):
        np.testing.assert_array_equal(b, s)  # old arrays untouched: a new one was assigned
    np.testing.assert_array_equal(grads[0], np.ones(SHAPES[0]))  # the grad array untouched
    assert not np.array_equal(params[0].data, snapshot[0])
    np.testing.assert_array_equal(params[2].data, snapshot[2])
    assert opt.state[2] == {}
    for p in params:
        assert p.grad is None or p.grad.dtype == np.float32
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_accepts_module_parameters_generators_and_plain_leaf_tensors():
    model = nn.Linear(3, 2, rng=0)
    assert len(optim.SGD(model.parameters(), lr=0.1).params) == 2
    assert len(optim.SGD((p for p in model.parameters()), lr=0.1).params) == 2
    w = tg.Tensor(np.ones((2, 2)), requires_grad=True)  # an Elman weight written by hand
    assert optim.Adam([w]).params == [w]


def test_lr_change_between_steps_takes_effect():
    p = nn.Parameter(np.zeros(2), dtype=np.float64)
    opt = optim.SGD([p], lr=1.0)
    opt.lr = 0.25
    p.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(p.data, [-0.25, -0.25])


# ---- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("build,error,match", [
    (lambda ps: optim.SGD(ps, lr=-0.1), ValueError, "invalid lr"),
    (lambda ps: optim.SGD(ps, lr=float("nan")), ValueError, "invalid lr"),
    (lambda ps: optim.SGD(ps, lr="0.1"), TypeError, "lr must be a number"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), ValueError, "invalid momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), ValueError, "invalid weight_decay"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), ValueError, "nesterov=True needs"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     ValueError, "dampening = 0"),
    (lambda ps: optim.Adam(ps, lr=-1.0), ValueError, "invalid lr"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), ValueError, r"invalid betas\[0\]"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), ValueError, r"invalid betas\[1\]"),
    (lambda ps: optim.Adam(ps, betas=(0.9,)), ValueError, "betas must be a pair"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), ValueError, "invalid eps"),
])
def test_bad_hyperparameters(build, error, match):
    with pytest.raises(error, match=match):
        build(make_params())


@pytest.mark.parametrize("params,error,match", [
    ([], ValueError, "empty parameter list"),
    (iter([]), ValueError, "empty parameter list"),
    ([np.zeros(3)], TypeError, r"params\[0\] is a ndarray, not a Parameter"),
    ([nn.Parameter(np.zeros(2)), 3.0], TypeError, r"params\[1\] is a float"),
    (nn.Linear(2, 2, rng=0), TypeError, "pass model.parameters"),
    (nn.Parameter(np.zeros(2)), TypeError, "iterable of parameters"),
])
def test_bad_parameter_lists(params, error, match):
    with pytest.raises(error, match=match):
        optim.SGD(params, lr=0.1)


def test_frozen_parameters_are_accepted_and_left_alone_until_unfrozen():
    # torch's habit: freeze a layer with requires_grad_(False) and still pass
    # model.parameters() to the optimizer
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 1, rng=1))
    frozen = list(model[0].parameters())
    for p in frozen:
        p.requires_grad_(False)
    before = [p.data.copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    for _ in range(2):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()
    after = list(model.parameters())
    assert all(np.array_equal(p.data, b) for p, b in zip(after[:2], before[:2], strict=True))
    assert all(not np.array_equal(p.data, b) for p, b in zip(after[2:], before[2:], strict=True))
    for p in frozen:
        p.requires_grad_(True)
    opt.zero_grad()
    (model(x) ** 2).sum().backward()
    opt.step()
    assert not np.array_equal(frozen[0].data, before[0])


def test_non_leaf_and_duplicate_parameters_are_rejected():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match=r"computed by an op \(Mul\)"):
        optim.Adam([p * 2.0])
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([p, p])


# ---- clipping --------------------------------------------------------------------------------
def set_grads(params: list[nn.Parameter], scale: float, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    grads = [scale * rng.standard_normal(p.shape) for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.astype(p.dtype)
    return [p.grad.copy() for p in params]  # type: ignore[union-attr]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_by_hand(norm_type, scale):
    params = make_params()
    grads = set_grads(params, scale)
    flat = np.concatenate([g.ravel() for g in grads])
    if math.isinf(norm_type):
        total = np.abs(flat).max()
    else:
        total = (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    returned = optim.clip_grad_norm_(params, 1.0, norm_type)
    assert isinstance(returned, float)
    assert returned == pytest.approx(total, rel=1e-12)
    factor = 1.0 / (total + 1e-6) if total > 1.0 else 1.0
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_allclose(p.grad, g * factor, rtol=1e-13)
    if total > 1.0:
        new_flat = np.concatenate([p.grad.ravel() for p in params])  # type: ignore[union-attr]
        new_total = np.abs(new_flat).max() if math.isinf(norm_type) else \
            (np.abs(new_flat) ** norm_type).sum() ** (1 / norm_type)
        assert new_total <= 1.0


def test_clip_grad_norm_does_not_mutate_arrays_and_keeps_dtype():
    params = make_params(np.float32)
    set_grads(params, 100.0)
    old = [p.grad for p in params]
    snapshot = [g.copy() for g in old]  # type: ignore[union-attr]
    optim.clip_grad_norm_(params, 1.0)
    for o, s, p in zip(old, snapshot, params, strict=True):
        np.testing.assert_array_equal(o, s)
        assert p.grad is not o and p.grad.dtype == np.float32  # type: ignore[union-attr]


def test_clip_grad_norm_edge_cases():
    params = make_params()
    assert optim.clip_grad_norm_(params, 1.0) == 0.0  # no gradients at all
    params[1].grad = np.array([3.0, 4.0, 0.0, 0.0])  # only one parameter has a gradient
    assert optim.clip_grad_norm_(params, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(params[1].grad, [0.6, 0.8, 0, 0], rtol=1e-6)
    assert optim.clip_grad_norm_(params[1], 10.0) == pytest.approx(1.0, rel=1e-6)  # a tensor
    params[1].grad = np.array([np.inf, 1.0, 0.0, 0.0])
    with pytest.raises(RuntimeError, match="exploded"):
        optim.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type must be"):
        optim.clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="invalid max_norm"):
        optim.clip_grad_norm_(params, -1.0)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.clip_grad_norm_([np.zeros(2)], 1.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    params = make_params()
    grads = set_grads(params, 3.0)
    tp = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    for t, g in zip(tp, grads, strict=True):
        t.grad = torch.tensor(g.copy())
    expected = torch.nn.utils.clip_grad_norm_(tp, 0.7, norm_type)
    got = optim.clip_grad_norm_(params, 0.7, norm_type)
    assert got == pytest.approx(float(expected), rel=1e-12)
    for p, t in zip(params, tp, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_by_hand_and_torch():
    params = make_params()
    grads = set_grads(params, 2.0)
    old = [p.grad for p in params]
    optim.clip_grad_value_(params, 1.5)
    for p, g, o in zip(params, grads, old, strict=True):
        expected = np.where(g > 1.5, 1.5, np.where(g < -1.5, -1.5, g))
        np.testing.assert_array_equal(p.grad, expected)
        np.testing.assert_array_equal(o, g)  # the old array was not modified
    with pytest.raises(ValueError, match="invalid clip_value"):
        optim.clip_grad_value_(params, -1.0)
    torch = pytest.importorskip("torch")
    tp = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    for t, g in zip(tp, grads, strict=True):
        t.grad = torch.tensor(g.copy())
    torch.nn.utils.clip_grad_value_(tp, 1.5)
    for p, t in zip(params, tp, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


# ---- optimizer state ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99)),
])
def test_state_dict_round_trip_continues_identically(make):
    grads = grad_sequence(6, missing=MISSING)
    a = make(make_params())
    run_ours(a, grads[:3])
    saved = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in saved.values())
    b = make([nn.Parameter(p.data.copy(), dtype=np.float64) for p in a.params])
    b.lr = 123.0  # overwritten by the load
    b.load_state_dict(saved)
    assert b.lr == a.lr
    for value in saved.values():
        value[...] = 0  # the dict holds copies: changing it changes neither optimizer
    run_ours(a, grads[3:])
    run_ours(b, grads[3:])
    for pa, pb in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_state_dict_contents():
    params = make_params()
    adam = optim.Adam(params, lr=0.01)
    run_ours(adam, grad_sequence(3, missing=((0, 1),)))
    sd = adam.state_dict()
    assert sorted(k for k in sd if "." not in k) == ["betas", "eps", "lr", "weight_decay"]
    assert int(sd["0.step"]) == 3 and int(sd["1.step"]) == 2
    assert sd["0.exp_avg"].shape == SHAPES[0] and sd["2.exp_avg_sq"].shape == SHAPES[2]
    sgd = optim.SGD(params, lr=0.1)  # no momentum: no buffers
    run_ours(sgd, grad_sequence(2))
    assert sorted(sgd.state_dict()) == ["dampening", "lr", "momentum", "nesterov",
                                        "weight_decay"]


def test_load_state_dict_errors_change_nothing():
    params = make_params()
    opt = optim.Adam(params, lr=0.01)
    run_ours(opt, grad_sequence(2))
    good = opt.state_dict()
    before = opt.state_dict()
    bad_shape = dict(good, **{"0.exp_avg": np.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"'0.exp_avg' has shape \(4, 3\), expected \(3, 4\)"):
        opt.load_state_dict(bad_shape)
    with pytest.raises(KeyError, match=r"missing keys \['lr'\]"):
        opt.load_state_dict({k: v for k, v in good.items() if k != "lr"})
    with pytest.raises(KeyError, match=r"unexpected keys \['7.exp_avg'\]"):
        opt.load_state_dict(dict(good, **{"7.exp_avg": np.zeros(3)}))
    with pytest.raises(KeyError, match="needs all of"):
        opt.load_state_dict({k: v for k, v in good.items() if k != "1.exp_avg_sq"})
    with pytest.raises(ValueError, match="invalid lr"):
        opt.load_state_dict(dict(good, lr=np.asarray(-1.0)))
    after = opt.state_dict()
    assert sorted(after) == sorted(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])
    assert opt.lr == 0.01


def test_module_docstring_example_runs():
    import doctest

    result = doctest.testmod(optim)
    assert result.attempted > 0 and result.failed == 0


def test_clip_grad_norm_with_infinite_max_norm_only_measures():
    p = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    p.grad = np.array([3.0, 4.0])
    assert optim.clip_grad_norm_([p], float("inf")) == pytest.approx(5.0)
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])
