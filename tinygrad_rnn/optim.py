"""Optimizers (SGD, Adam) and gradient clipping: what happens to ``.grad`` after ``backward()``.

A training step is: forward, backward (fills every parameter's ``.grad``), clip, update,
zero the gradients::

    >>> import numpy as np
    >>> import tinygrad_rnn as tg
    >>> from tinygrad_rnn import nn, optim
    >>> from tinygrad_rnn.functional import mse_loss
    >>> model = nn.Sequential(nn.Linear(2, 8, rng=0), nn.Tanh(), nn.Linear(8, 1, rng=1))
    >>> opt = optim.Adam(model.parameters(), lr=1e-2)
    >>> x = tg.Tensor(np.random.default_rng(0).standard_normal((16, 2)), dtype=np.float32)
    >>> d = tg.Tensor(x.data[:, :1] * x.data[:, 1:])            # target: x0 * x1
    >>> for step in range(3):
    ...     loss = mse_loss(model(x), d)                         # forward
    ...     loss.backward()                                      # backward: fills .grad
    ...     norm = optim.clip_grad_norm_(model.parameters(), 1.0)  # clip
    ...     opt.step()                                           # update p.data
    ...     opt.zero_grad()                                      # .grad = None

The updates follow ``torch.optim`` equation for equation (tested against it). They run
outside the graph: each step assigns a *new* array to ``p.data`` (same dtype as before) and
records no op, so the next forward pass starts a fresh graph from the new values. Arrays are
never modified in place: the engine and ``detach()`` may share one array between tensors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.tensor import Tensor

__all__ = ["SGD", "Adam", "Optimizer", "clip_grad_norm_", "clip_grad_value_"]


# ---- checks shared by the optimizers -----------------------------------------------------
def _number(owner: str, name: str, value: Any, low: float = 0.0,
            high: float = math.inf, high_open: bool = False, allow_inf: bool = False) -> float:
    """``value`` as a float in [low, high] (or [low, high)), else a clear error; +inf only
    if ``allow_inf``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    v = float(value)
    if allow_inf and v == math.inf:
        return v
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or v < low or too_high:
        bracket = ")" if high_open else "]"
        upper = f"{high}{bracket}" if math.isfinite(high) else "∞)"
        raise ValueError(f"{owner}: invalid {name} {value!r}; it must be a finite number in "
                         f"[{low}, {upper}")
    return v


def _collect_params(params: Any, owner: str) -> list[Tensor]:
    """The list of tensors an optimizer updates, with a clear error for anything else."""
    if isinstance(params, Module):
        raise TypeError(f"{owner}: pass model.parameters(), not the module "
                        f"{type(params).__name__} itself")
    if isinstance(params, Tensor) or not isinstance(params, Iterable):
        raise TypeError(f"{owner}: params must be an iterable of parameters (e.g. "
                        f"model.parameters() or [W_x, W_s]), got {type(params).__name__}")
    out: list[Tensor] = []
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a Parameter; "
                            f"pass model.parameters() or a list of tensors")
        if not p.requires_grad:
            raise ValueError(f"{owner}: params[{i}] (shape {p.shape}, name {p.name!r}) does not "
                             f"require grad, so it never gets a gradient; use nn.Parameter or "
                             f"requires_grad=True")
        if p.grad_fn is not None:
            raise ValueError(f"{owner}: params[{i}] (shape {p.shape}) was computed by an op "
                             f"({p.grad_fn.name}); only leaf tensors (parameters) can be optimized")
        if id(p) in seen:
            raise ValueError(f"{owner}: params[{i}] (shape {p.shape}, name {p.name!r}) appears "
                             f"twice; each parameter must be listed once")
        seen.add(id(p))
        out.append(p)
    if not out:
        raise ValueError(f"{owner}: got an empty parameter list; did the model define any "
                         f"Parameters (or was a generator used up before)?")
    return out


_STATE_KEY = re.compile(r"^(\d+)\.(\w+)$")  # "3.exp_avg": parameter 3's first moment


class Optimizer:
    """Base class: holds the parameters and their per-parameter state.

    Subclasses list their hyperparameters in ``hyperparameters`` (attributes you may change
    between steps, e.g. ``opt.lr = 1e-3`` for a schedule) and the names of their
    per-parameter state arrays in ``state_names``; they implement ``_update``.

    Attributes:
        params: the parameters, in the order given.
        state:  one dict per parameter, name -> NumPy array (empty until its first update).
    """

    hyperparameters: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Any) -> None:
        self.params = _collect_params(params, type(self).__name__)
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``; the next backward sets it)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters with ``grad None`` (unused
        in the last forward pass) are skipped and their state is left unchanged."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            new = self._update(p.data, p.grad, self.state[i])
            # np.asarray: NumPy turns 0-d results into scalars; float32 stays float32
            p.data = np.asarray(new, dtype=p.data.dtype)

    def _update(self, param: np.ndarray, grad: np.ndarray,
                state: dict[str, np.ndarray]) -> np.ndarray:
        """Return the new parameter array; may replace entries of ``state`` (never mutate)."""
        raise NotImplementedError

    def _check_hyperparameters(self) -> None:
        """Raise a clear error if a hyperparameter is out of range (subclasses)."""

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Hyperparameters and per-parameter state as a flat dict of NumPy arrays (copies).

        Keys: each hyperparameter by name (``"lr"``, ``"betas"``, ...) and
        ``"<i>.<name>"`` for the state of parameter ``i`` (``"0.momentum_buffer"``,
        ``"2.exp_avg"``, ``"2.step"``), ``i`` being the position in ``params``, as in torch.
        """
        out = {name: np.asarray(getattr(self, name)).copy() for name in self.hyperparameters}
        for i, st in enumerate(self.state):
            for name, value in st.items():
                out[f"{i}.{name}"] = value.copy()
        return out

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Validate ``state`` for ``load_state_dict`` without loading anything.

        Raises KeyError for missing/unexpected keys and ValueError for a shape that does not
        match its parameter, naming the optimizer, the key and both shapes.
        """
        kind = type(self).__name__
        missing = [h for h in self.hyperparameters if h not in state]
        unexpected = []
        for key in state:
            if key in self.hyperparameters:
                continue
            m = _STATE_KEY.match(key)
            if m is None or int(m.group(1)) >= len(self.params) \
                    or m.group(2) not in self.state_names:
                unexpected.append(key)
        if missing or unexpected:
            raise KeyError(f"{kind}.load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}; expected the hyperparameters "
                           f"{list(self.hyperparameters)} and '<i>.<name>' with i < "
                           f"{len(self.params)} and name in {list(self.state_names)}")
        for key in state:
            m = _STATE_KEY.match(key)
            if m is None:
                continue
            i, name = int(m.group(1)), m.group(2)
            array = np.asarray(state[key])
            want = self._state_shape(name, self.params[i].shape)
            if array.shape != want:
                raise ValueError(f"{kind}.load_state_dict: {key!r} has shape {array.shape}, "
                                 f"expected {want} (parameter {i} has shape "
                                 f"{self.params[i].shape}); was it saved for another model?")
        for i in range(len(self.params)):
            present = [n for n in self.state_names if f"{i}.{n}" in state]
            if present and len(present) != len(self.state_names):
                raise KeyError(f"{kind}.load_state_dict: parameter {i} has state {present} "
                               f"but needs all of {list(self.state_names)}")
        # the hyperparameters' values: set them, run the constructor's checks, put them back
        old = {name: getattr(self, name) for name in self.hyperparameters}
        try:
            for name in self.hyperparameters:
                setattr(self, name, _from_array(kind, name, np.asarray(state[name]), old[name]))
            self._check_hyperparameters()
        finally:
            for name, value in old.items():
                setattr(self, name, value)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by ``state_dict()``.

        Everything is validated first (``check_state_dict``); nothing changes on an error.
        State arrays are converted to their parameter's dtype (as torch does).
        """
        self.check_state_dict(state)
        kind = type(self).__name__
        for name in self.hyperparameters:
            value = _from_array(kind, name, np.asarray(state[name]), getattr(self, name))
            setattr(self, name, value)
        self._check_hyperparameters()  # already passed in check_state_dict; normalises types
        new_state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        for key, value in state.items():
            m = _STATE_KEY.match(key)
            if m is None:
                continue
            i, name = int(m.group(1)), m.group(2)
            array = np.array(value)
            if name != "step":
                array = array.astype(self.params[i].dtype)
            new_state[i][name] = array
        self.state = new_state

    @staticmethod
    def _state_shape(name: str, param_shape: tuple[int, ...]) -> tuple[int, ...]:
        return () if name == "step" else param_shape

    def __repr__(self) -> str:
        hyper = ", ".join(f"{h}={getattr(self, h)!r}" for h in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _from_array(kind: str, name: str, value: np.ndarray, like: Any) -> Any:
    """A saved hyperparameter back as the Python type it had (float, bool, tuple)."""
    want = (len(like),) if isinstance(like, tuple) else ()
    if value.shape != want or value.dtype.kind not in "biuf":
        raise ValueError(f"{kind}.load_state_dict: hyperparameter {name!r} must be a numeric "
                         f"array of shape {want}, got dtype {value.dtype} shape {value.shape}")
    if isinstance(like, bool):
        return bool(value)
    if isinstance(like, tuple):
        return tuple(float(v) for v in value)
    return float(value)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, weight decay and Nesterov.

    For each parameter θ with gradient g (torch.optim.SGD's rule; μ = momentum,
    τ = dampening, λ = weight_decay, b the momentum buffer)::

        g ← g + λ·θ                              (if λ ≠ 0: L2 regularisation)
        b ← g                                    (first step)
        b ← μ·b + (1 − τ)·g                      (later steps, if μ ≠ 0)
        g ← g + μ·b  if nesterov  else  g ← b    (if μ ≠ 0)
        θ ← θ − lr·g

    With μ = λ = 0 this is the lectures' W_new = W − α·∂E/∂W.
    State per parameter: ``momentum_buffer`` (only when μ ≠ 0).
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_names = ("momentum_buffer",)

    def __init__(self, params: Any, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self._check_hyperparameters()

    def _check_hyperparameters(self) -> None:
        self.lr = _number("SGD", "lr", self.lr)
        self.momentum = _number("SGD", "momentum", self.momentum)
        self.dampening = _number("SGD", "dampening", self.dampening)
        self.weight_decay = _number("SGD", "weight_decay", self.weight_decay)
        if not isinstance(self.nesterov, bool | np.bool_):
            raise TypeError(f"SGD: nesterov must be True or False, got {self.nesterov!r}")
        self.nesterov = bool(self.nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={self.momentum}, dampening={self.dampening}")

    def _update(self, param: np.ndarray, grad: np.ndarray,
                state: dict[str, np.ndarray]) -> np.ndarray:
        g = grad
        if self.weight_decay != 0:
            g = g + self.weight_decay * param
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            buf = g.copy() if buf is None else self.momentum * buf + (1 - self.dampening) * g
            state["momentum_buffer"] = np.asarray(buf)
            g = g + self.momentum * buf if self.nesterov else buf
        return param - self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with torch.optim.Adam's exact rule.

    For each parameter θ with gradient g, at its t-th update (t = 1, 2, ...)::

        g ← g + λ·θ                              (if λ ≠ 0: L2 penalty, not AdamW)
        m ← β1·m + (1 − β1)·g                    (first moment, m₀ = 0)
        v ← β2·v + (1 − β2)·g²                   (second moment, v₀ = 0)
        θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

    The bias corrections 1/(1 − βᵗ) undo the pull of m₀ = v₀ = 0 towards zero in the first
    steps. Note ε is added *after* dividing √v by √(1 − β2ᵗ), as torch does.
    State per parameter: ``step`` (t, an integer), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self._check_hyperparameters()

    def _check_hyperparameters(self) -> None:
        self.lr = _number("Adam", "lr", self.lr)
        if not isinstance(self.betas, tuple | list) or len(self.betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {self.betas!r}")
        self.betas = (_number("Adam", "betas[0]", self.betas[0], high=1.0, high_open=True),
                      _number("Adam", "betas[1]", self.betas[1], high=1.0, high_open=True))
        self.eps = _number("Adam", "eps", self.eps)
        self.weight_decay = _number("Adam", "weight_decay", self.weight_decay)

    def _update(self, param: np.ndarray, grad: np.ndarray,
                state: dict[str, np.ndarray]) -> np.ndarray:
        beta1, beta2 = self.betas
        g = grad
        if self.weight_decay != 0:
            g = g + self.weight_decay * param
        t = int(state["step"]) + 1 if "step" in state else 1
        m = state.get("exp_avg", np.zeros_like(param))
        v = state.get("exp_avg_sq", np.zeros_like(param))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * (g * g)
        state["step"] = np.asarray(t, dtype=np.int64)
        state["exp_avg"], state["exp_avg_sq"] = np.asarray(m), np.asarray(v)
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + self.eps
        return param - step_size * (m / denom)


# ---- gradient clipping ---------------------------------------------------------------------
def _grads_of(params: Any, fn: str) -> list[Tensor]:
    """The tensors among ``params`` that have a gradient (a single tensor is allowed)."""
    if isinstance(params, Module):
        raise TypeError(f"{fn}: pass model.parameters(), not the module itself")
    if isinstance(params, Tensor):
        params = [params]
    if not isinstance(params, Iterable):
        raise TypeError(f"{fn}: params must be a tensor or an iterable of tensors, got "
                        f"{type(params).__name__}")
    out = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: params[{i}] is a {type(p).__name__}, not a Tensor")
        if p.grad is not None:
            out.append(p)
    return out


def clip_grad_norm_(params: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The total norm treats every gradient entry of every parameter as one long vector::

        total = (Σ_p ‖g_p‖ₙⁿ)^(1/n)          (n = norm_type; for n = inf: max |g|)
        scale = max_norm / (total + 1e-6)
        g_p ← scale · g_p   for every p, if scale < 1

    The direction of the update is kept, only its length is capped: the lectures' fix for
    exploding gradients. Returns ``total``, the norm *before* clipping (log it: a spike
    means an exploding gradient). Parameters without a gradient are ignored; with none at
    all the norm is 0.0. New arrays are assigned to ``.grad`` (never modified in place).
    """
    max_norm = _number("clip_grad_norm_", "max_norm", max_norm, allow_inf=True)  # inf: measure
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float) \
            or not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or "
                         f"float('inf'), got {norm_type!r}")
    norm_type = float(norm_type)
    tensors = _grads_of(params, "clip_grad_norm_")
    if not tensors:
        return 0.0
    grads = [np.abs(np.asarray(p.grad, dtype=np.float64)) for p in tensors]
    if math.isinf(norm_type):
        total = max(float(g.max()) if g.size else 0.0 for g in grads)
    else:
        total = float(sum(float((g ** norm_type).sum()) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}; the gradients exploded or contain NaN")
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for p in tensors:
            assert p.grad is not None
            p.grad = np.asarray(p.grad * scale, dtype=p.grad.dtype)
    return total


def clip_grad_value_(params: Any, clip_value: float) -> None:
    """Clip every gradient entry to [−clip_value, clip_value] (the lectures' element-wise
    clipping, e.g. clip_value = 5 or 10): g ← min(max(g, −c), c). New arrays are assigned."""
    c = _number("clip_grad_value_", "clip_value", clip_value)
    for p in _grads_of(params, "clip_grad_value_"):
        assert p.grad is not None
        p.grad = np.asarray(np.clip(p.grad, -c, c), dtype=p.grad.dtype)
