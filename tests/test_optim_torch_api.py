"""AdamW, RMSprop, Adagrad against hand-written NumPy equations; param_groups driving the
hyperparameters; checks on every way a hyperparameter is set; gradient shapes; state-dict
validation; the learning-rate schedulers against their closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_rnn import nn, optim
from tinygrad_rnn.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, StepLR

SHAPES = [(3, 4), (4,), ()]


def make_params(seed: int = 0, dtype: type = np.float64) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s), dtype=dtype) for s in SHAPES]


def grads(steps: int, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def run(opt: optim.Optimizer, seq: list[list[np.ndarray]]) -> list[np.ndarray]:
    for row in seq:
        for p, g in zip(opt.params, row, strict=True):
            p.grad = g.astype(p.dtype)  # a copy, in the dtype backward would give
        opt.step()
    return [p.data for p in opt.params]


# ---- reference updates, written from the published equations -------------------------------
def numpy_adamw(init, seq, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    out = []
    for i, theta in enumerate(init):
        m = v = np.zeros_like(theta)
        for t, row in enumerate(seq, start=1):
            g = row[i]
            theta = theta - lr * weight_decay * theta
            m = betas[0] * m + (1 - betas[0]) * g
            v = betas[1] * v + (1 - betas[1]) * g * g
            m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def numpy_rmsprop(init, seq, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                  centered=False):
    out = []
    for i, theta in enumerate(init):
        v = gbar = buf = np.zeros_like(theta)
        for row in seq:
            g = row[i] + weight_decay * theta
            v = alpha * v + (1 - alpha) * g ** 2
            if centered:
                gbar = alpha * gbar + (1 - alpha) * g
                denom = np.sqrt(v - gbar ** 2) + eps
            else:
                denom = np.sqrt(v) + eps
            if momentum > 0:
                buf = momentum * buf + g / denom
                theta = theta - lr * buf
            else:
                theta = theta - lr * g / denom
        out.append(theta)
    return out


def numpy_adagrad(init, seq, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                  initial_accumulator_value=0.0, eps=1e-10):
    out = []
    for i, theta in enumerate(init):
        s = np.full_like(theta, initial_accumulator_value)
        for t, row in enumerate(seq, start=1):
            g = row[i] + weight_decay * theta
            s = s + g ** 2
            theta = theta - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(theta)
    return out


CASES = [
    (optim.AdamW, numpy_adamw, {}),
    (optim.AdamW, numpy_adamw, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.3}),
    (optim.RMSprop, numpy_rmsprop, {}),
    (optim.RMSprop, numpy_rmsprop, {"lr": 0.003, "alpha": 0.9, "momentum": 0.7}),
    (optim.RMSprop, numpy_rmsprop, {"centered": True, "weight_decay": 0.1}),
    (optim.RMSprop, numpy_rmsprop, {"centered": True, "momentum": 0.5, "eps": 1e-3}),
    (optim.Adagrad, numpy_adagrad, {}),
    (optim.Adagrad, numpy_adagrad, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01,
                                    "initial_accumulator_value": 0.5}),
]


@pytest.mark.parametrize("cls, reference, config", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_update_matches_the_equations(cls, reference, config):
    params, seq = make_params(), grads(8)
    expected = reference([p.data.copy() for p in params], seq, **config)
    for got, want in zip(run(cls(params, **config), seq), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [optim.AdamW, optim.RMSprop, optim.Adagrad])
def test_float32_stays_float32_and_state_round_trips(cls):
    params = make_params(dtype=np.float32)
    opt = cls(params, lr=0.01)
    run(opt, grads(3))
    assert all(p.dtype == np.float32 for p in params)
    state = opt.state_dict()
    twin = cls(make_params(dtype=np.float32), lr=0.5)
    twin.load_state_dict(state)
    assert twin.lr == 0.01
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(value, state[key])


# ---- param_groups ---------------------------------------------------------------------------
def test_param_groups_drive_each_groups_learning_rate():
    a, b = nn.Parameter(np.zeros(2), dtype=np.float64), nn.Parameter(np.zeros(3),
                                                                     dtype=np.float64)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.defaults["lr"] == 0.1 and opt.param_groups[0]["params"] == [a]
    a.grad, b.grad = np.ones(2), np.ones(3)
    opt.step()
    np.testing.assert_allclose(a.data, -0.1)
    np.testing.assert_allclose(b.data, -0.5)
    opt.param_groups[1]["lr"] = 0.25  # read at the next step
    a.grad, b.grad = np.ones(2), np.ones(3)
    opt.step()
    np.testing.assert_allclose(b.data, -0.75)
    with pytest.raises(AttributeError, match=r"different lr values \[0.1, 0.25\]"):
        _ = opt.lr
    opt.lr = 1.0  # the attribute sets every group
    assert [g["lr"] for g in opt.param_groups] == [1.0, 1.0] and opt.lr == 1.0


def test_add_param_group_and_its_checks():
    a, b = make_params()[:2]
    opt = optim.Adam([a], lr=0.01)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.6) and opt.param_groups[1]["lr"] == 0.01
    assert opt.params == [a, b]
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match=r"unknown hyperparameters \['momentum'\]"):
        opt.add_param_group({"params": make_params(3)[:1], "momentum": 0.9})
    with pytest.raises(TypeError, match="a dict with a 'params' key"):
        opt.add_param_group([b])
    with pytest.raises(ValueError, match="cannot be replaced"):
        opt.param_groups[0]["params"] = [b]


@pytest.mark.parametrize("setter", [
    lambda opt, v: setattr(opt, "lr", v),
    lambda opt, v: opt.param_groups[0].__setitem__("lr", v),
])
@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (-5, ValueError),
                                          (float("inf"), ValueError), ("1e-3", TypeError)])
def test_bad_lr_set_after_construction_is_refused(setter, value, error):
    opt = optim.Adam(make_params(), lr=0.01)
    with pytest.raises(error, match="lr"):
        setter(opt, value)
    assert opt.lr == 0.01


@pytest.mark.parametrize("name, value, match", [
    ("betas", (0.9, 1.0), r"invalid betas\[1\]"),
    ("eps", -1.0, "invalid eps"),
    ("weight_decay", float("nan"), "invalid weight_decay"),
])
def test_other_hyperparameters_are_checked_when_set(name, value, match):
    opt = optim.AdamW(make_params())
    with pytest.raises(ValueError, match=match):
        setattr(opt, name, value)
    with pytest.raises(ValueError, match=match):
        opt.param_groups[0][name] = value


def test_a_value_slipped_in_by_dict_update_is_caught_at_step():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    opt.param_groups[0].update(lr=float("nan"))  # dict.update bypasses __setitem__
    params[0].grad = np.ones(SHAPES[0])
    before = params[0].data
    with pytest.raises(ValueError, match="invalid lr nan"):
        opt.step()
    assert params[0].data is before


def test_zero_grad_set_to_none():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    params[0].grad = np.ones(SHAPES[0])
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is not None and not params[0].grad.any()
    assert params[1].grad is None
    opt.zero_grad()
    assert params[0].grad is None


# ---- gradients of the wrong shape ---------------------------------------------------------------
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                 optim.Adagrad])
def test_a_broadcastable_grad_of_another_shape_is_refused(cls):
    bias = nn.Parameter(np.zeros(1), dtype=np.float64, name="bias")
    opt = cls([bias], lr=0.1)
    bias.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"parameter 0 \(bias, group 0\) has shape \(1,\) but "
                                         r"its \.grad has shape \(3,\)"):
        opt.step()
    assert bias.shape == (1,) and opt.state[0] == {}


# ---- load_state_dict validation -----------------------------------------------------------------
def trained(cls=optim.Adam):
    opt = cls(make_params(), lr=0.01)
    run(opt, grads(2))
    return opt, opt.state_dict()


@pytest.mark.parametrize("cls, key, value, error, match", [
    (optim.Adam, "0.exp_avg_sq", -np.ones((3, 4)), ValueError, "'0.exp_avg_sq' holds negative"),
    (optim.Adam, "1.exp_avg_sq", np.full(4, np.nan), ValueError, "negative or NaN"),
    (optim.RMSprop, "2.square_avg", np.array(-1.0), ValueError, "negative"),
    (optim.Adagrad, "0.sum", -np.ones((3, 4)), ValueError, "'0.sum' holds negative"),
    (optim.Adam, "0.step", np.array(2.5), ValueError, "'0.step' must be a non-negative whole"),
    (optim.Adam, "0.step", np.array(-5), ValueError, "non-negative whole number"),
    (optim.Adam, "0.step", np.array([1, 2]), ValueError, "non-negative whole number"),
    (optim.Adam, "1.exp_avg", np.zeros(5), ValueError, r"has shape \(5,\), expected \(4,\)"),
    (optim.Adam, "lr", np.array(-1.0), ValueError, "invalid lr"),
    (optim.Adam, "betas", np.array([0.9, 1.5]), ValueError, r"invalid betas\[1\]"),
    (optim.Adam, "0.exp_avg", np.array(["a"] * 12).reshape(3, 4), TypeError, "numeric"),
])
def test_corrupt_state_dicts_are_refused_and_change_nothing(cls, key, value, error, match):
    opt, good = trained(cls)
    before = opt.state_dict()
    with pytest.raises(error, match=match):
        opt.load_state_dict({**good, key: value})
    for k, v in opt.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_float_step_from_torch_loads_as_an_integer():
    opt, good = trained()
    opt.load_state_dict({**good, "0.step": np.array(2.0)})
    assert opt.state[0]["step"].dtype == np.int64 and int(opt.state[0]["step"]) == 2


def test_two_groups_round_trip_through_the_state_dict():
    params = make_params()
    opt = optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1,
                    momentum=0.9)
    run(opt, grads(2))
    state = opt.state_dict()
    assert state["lr"] == 0.1 and state["group1.lr"] == 0.5
    twin_params = make_params(3)
    twin = optim.SGD([{"params": twin_params[:1]}, {"params": twin_params[1:]}], lr=0.2,
                     momentum=0.9)
    twin.load_state_dict(state)
    assert [g["lr"] for g in twin.param_groups] == [0.1, 0.5]
    with pytest.raises(KeyError, match=r"unexpected keys \['group1.lr'"):
        optim.SGD(make_params(), lr=0.1, momentum=0.9).load_state_dict(state)


# ---- schedulers against their closed forms -------------------------------------------------------
def sgd_two_groups(lr0: float = 0.1, lr1: float = 0.4) -> optim.SGD:
    params = make_params()
    return optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": lr1}], lr=lr0)


def lr_sequence(opt: optim.Optimizer, sched, epochs: int) -> list[list[float]]:
    seq = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
    return seq


def test_step_lr():
    opt = sgd_two_groups()
    seq = lr_sequence(opt, StepLR(opt, step_size=3, gamma=0.5), 10)
    for epoch, lrs in enumerate(seq):
        np.testing.assert_allclose(lrs, [0.1 * 0.5 ** (epoch // 3), 0.4 * 0.5 ** (epoch // 3)],
                                   rtol=1e-14)


def test_exponential_lr():
    opt = sgd_two_groups()
    seq = lr_sequence(opt, ExponentialLR(opt, gamma=0.9), 10)
    for epoch, lrs in enumerate(seq):
        np.testing.assert_allclose(lrs, [0.1 * 0.9 ** epoch, 0.4 * 0.9 ** epoch], rtol=1e-13)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_lr_follows_the_cosine_beyond_t_max(eta_min):
    opt = sgd_two_groups()
    seq = lr_sequence(opt, CosineAnnealingLR(opt, T_max=5, eta_min=eta_min), 17)
    for epoch, lrs in enumerate(seq):
        want = [eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / 5)) / 2
                for base in (0.1, 0.4)]
        np.testing.assert_allclose(lrs, want, rtol=1e-10, atol=1e-15)


def test_scheduler_state_dict_resumes_the_sequence():
    opt = sgd_two_groups()
    sched = StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        sched.step()
    saved, saved_lrs = sched.state_dict(), [g["lr"] for g in opt.param_groups]
    opt2 = sgd_two_groups()
    sched2 = StepLR(opt2, step_size=7, gamma=0.5)
    sched2.load_state_dict(saved)
    for g, lr in zip(opt2.param_groups, saved_lrs, strict=True):
        g["lr"] = lr
    assert sched2.step_size == 2 and sched2.last_epoch == 3
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(KeyError, match="expected keys"):
        sched2.load_state_dict({"last_epoch": 1})


@pytest.mark.parametrize("make, error, match", [
    (lambda o: StepLR(o, step_size=0), ValueError, "step_size must be a positive int"),
    (lambda o: StepLR(o, 2, gamma=-1), ValueError, "invalid gamma"),
    (lambda o: ExponentialLR(o, gamma=float("nan")), ValueError, "invalid gamma"),
    (lambda o: CosineAnnealingLR(o, T_max=2.5), ValueError, "T_max must be a positive int"),
    (lambda o: StepLR("opt", 2), TypeError, "expects an optim.Optimizer"),
    (lambda o: StepLR(o, 2, last_epoch=3), KeyError, "no 'initial_lr'"),
])
def test_scheduler_errors(make, error, match):
    with pytest.raises(error, match=match):
        make(sgd_two_groups())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_optimizers_copy_and_pickle_with_their_groups(how):
    import copy
    import pickle

    params = make_params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.01)
    run(opt, grads(2))
    twin = copy.deepcopy(opt) if how == "deepcopy" else pickle.loads(pickle.dumps(opt))
    assert [g["lr"] for g in twin.param_groups] == [0.01, 0.5]
    assert twin.param_groups[1]["params"][0] is twin.params[2]
    with pytest.raises(ValueError, match="invalid lr"):
        twin.param_groups[0]["lr"] = -1.0
    run(twin, grads(1, seed=4))
    run(opt, grads(1, seed=4))
    for a, b in zip(opt.params, twin.params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_an_error_in_a_later_group_changes_no_parameter():
    params = make_params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    before = [p.data for p in params]
    for p in params:
        p.grad = np.ones(p.shape)
    params[2].grad = np.ones(2)  # wrong shape, in group 1
    with pytest.raises(ValueError, match=r"parameter 2 \(unnamed, group 1\)"):
        opt.step()
    params[2].grad = np.ones(())
    dict.__setitem__(opt.param_groups[1], "eps", -1.0)
    with pytest.raises(ValueError, match="invalid eps"):
        opt.step()
    assert all(p.data is b for p, b in zip(params, before, strict=True))
    assert opt.state == [{}, {}, {}]
