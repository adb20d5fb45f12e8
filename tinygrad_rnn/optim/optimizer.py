"""``Optimizer``: the base class -- parameter groups, validated hyperparameters, state.

As in ``torch.optim``, an optimizer holds ``param_groups``: a list of dicts, each with the
key ``"params"`` (its tensors) and one entry per hyperparameter (``"lr"``, ``"betas"``,
...). ``step()`` reads the hyperparameters from each parameter's group on every call, so
changing ``opt.param_groups[0]["lr"]`` (what a learning-rate scheduler does) changes the
next update. ``opt.lr = 1e-3`` sets the value in every group.

Every hyperparameter is checked whenever it is set -- in the constructor, through a group
(``group["lr"] = ...``), through the attribute (``opt.lr = ...``) or by
``load_state_dict`` -- and once more at each ``step()`` (a group changed with
``dict.update`` bypasses the first check): NaN or a negative learning rate never reaches
an update.

Updates run outside the graph: each step assigns a *new* array to ``p.data`` (same dtype
as before). Arrays are never modified in place: the engine and ``detach()`` may share one
array between tensors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.tensor import Tensor

Check = Callable[[str, str, Any], Any]  # (optimizer name, key, value) -> normalised value


class ParamGroup(dict):  # type: ignore[type-arg]
    """One entry of ``param_groups``: a dict that checks a hyperparameter when it is set."""

    def __init__(self, owner: Optimizer, values: Mapping[str, Any]) -> None:
        super().__init__()
        self._owner = owner
        for key, value in values.items():
            dict.__setitem__(self, key, value)

    def __setitem__(self, key: str, value: Any) -> None:
        owner = self.__dict__.get("_owner")
        if owner is None:  # pickle refills the dict before it restores _owner
            dict.__setitem__(self, key, value)
            return
        if key == "params" and "params" in self:
            raise ValueError(f"{type(self._owner).__name__}: the parameters of a group cannot "
                             f"be replaced; use add_param_group() for new parameters")
        dict.__setitem__(self, key, owner._check_one(key, value))


def _param_list(params: Any, owner: str) -> list[Tensor]:
    """The tensors of one group, with a clear error for anything else."""
    if isinstance(params, Module):
        raise TypeError(f"{owner}: pass model.parameters(), not the module "
                        f"{type(params).__name__} itself")
    if isinstance(params, Tensor) or not isinstance(params, Iterable):
        raise TypeError(f"{owner}: params must be an iterable of parameters (e.g. "
                        f"model.parameters() or [W_x, W_s]), got {type(params).__name__}")
    out: list[Tensor] = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a Parameter; "
                            f"pass model.parameters() or a list of tensors")
        # (a frozen parameter, requires_grad False, is accepted as torch does: it gets no
        # gradient, so step() leaves it alone until it is unfrozen)
        if p.grad_fn is not None:
            raise ValueError(f"{owner}: params[{i}] (shape {p.shape}) was computed by an op "
                             f"({p.grad_fn.name}); only leaf tensors (parameters) can be "
                             f"optimized")
        out.append(p)
    return out


_STATE_KEY = re.compile(r"^(\d+)\.(\w+)$")  # "3.exp_avg": parameter 3's first moment
_GROUP_KEY = re.compile(r"^group(\d+)\.(\w+)$")  # "group1.lr": group 1's learning rate


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``step`` and ``zero_grad``.

    Subclasses set ``checks`` (hyperparameter name -> check function, in the order of the
    constructor's arguments), ``state_names`` (the per-parameter state arrays, see
    ``_state_names``) and implement ``_update``.

    Args:
        params: an iterable of tensors, or of dicts ``{"params": [...], "lr": ...}``
            (parameter groups; missing hyperparameters take the constructor's values).
        defaults: the constructor's hyperparameters.

    Attributes:
        param_groups: list of dicts, one per group (see the module docstring).
        defaults: the constructor's hyperparameters.
        params: every parameter, in order (group by group).
        state: one dict per parameter (in the order of ``params``), name -> NumPy array;
            empty until the parameter's first update.
    """

    checks: dict[str, Check] = {}  # noqa: RUF012 (read-only, set per subclass)
    state_names: tuple[str, ...] = ()
    nonnegative_state: tuple[str, ...] = ()  # second moments: a negative one is corrupt

    def __init__(self, params: Any, defaults: Mapping[str, Any]) -> None:
        kind = type(self).__name__
        object.__setattr__(self, "param_groups", [])
        self.defaults = {k: self._check_one(k, v) for k, v in defaults.items()}
        self.params: list[Tensor] = []
        self.state: list[dict[str, np.ndarray]] = []
        if isinstance(params, Module | Tensor) or not isinstance(params, Iterable):
            _param_list(params, kind)  # raises the clear error
        items = list(params)
        if not items:
            raise ValueError(f"{kind}: got an empty parameter list; did the model define any "
                             f"Parameters (or was a generator used up before)?")
        groups = items if isinstance(items[0], Mapping) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    # ---- hyperparameters ---------------------------------------------------------------
    @property
    def hyperparameters(self) -> tuple[str, ...]:
        return tuple(self.checks)

    def _check_one(self, key: str, value: Any) -> Any:
        check = self.checks.get(key)
        return value if check is None else check(type(self).__name__, key, value)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        """Checks between hyperparameters of one group (subclasses; e.g. SGD's nesterov)."""

    def _recheck(self, group: ParamGroup) -> None:
        """Check the group again if a value changed since the last check (``dict.update``
        bypasses ``__setitem__``): a cheap comparison on every step."""
        values = [group[key] for key in self.checks]
        if values != group.__dict__.get("_checked"):  # NaN != NaN: always rechecked
            for key, value in zip(self.checks, values, strict=True):
                self._check_one(key, value)
            self._check_group(group)
            group.__dict__["_checked"] = values

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group ``{"params": [...], "lr": ..., ...}``; missing hyperparameters take
        the constructor's values (``defaults``)."""
        kind = type(self).__name__
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"{kind}: a parameter group must be a dict with a 'params' key, "
                            f"got {group!r}")
        unknown = [k for k in group if k != "params" and k not in self.checks
                   and k != "initial_lr"]
        if unknown:
            raise ValueError(f"{kind}: unknown hyperparameters {unknown} in a parameter group; "
                             f"{kind} has {list(self.checks)}")
        params = group["params"]  # torch accepts one tensor as a group's params
        params = _param_list([params] if isinstance(params, Tensor) else params, kind)
        if not params:
            raise ValueError(f"{kind}: parameter group {len(self.param_groups)} is empty")
        seen = {id(p) for p in self.params}
        for p in params:
            if id(p) in seen:
                raise ValueError(f"{kind}: a parameter (shape {p.shape}, name {p.name!r}) "
                                 f"appears twice; each parameter must be listed once")
            seen.add(id(p))
            self.params.append(p)
            self.state.append({})
        values = {**self.defaults, **group, "params": params}
        new = ParamGroup(self, {"params": params})
        for key, value in values.items():
            if key != "params":
                new[key] = value
        self._check_group(new)
        self.param_groups.append(new)

    def __getattr__(self, name: str) -> Any:
        """``opt.lr``: the group value, if every group has the same one."""
        if name in type(self).checks and self.__dict__.get("param_groups"):
            values = [g[name] for g in self.param_groups]
            if any(v != values[0] for v in values[1:]):
                raise AttributeError(f"{type(self).__name__}: the parameter groups have "
                                     f"different {name} values {values}; read "
                                     f"opt.param_groups[i][{name!r}]")
            return values[0]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        """``opt.lr = 1e-3`` sets (and checks) the value in every group."""
        if name in type(self).checks and "param_groups" in self.__dict__:
            value = self._check_one(name, value)
            for g in self.param_groups:
                g[name] = value
            for g in self.param_groups:
                self._check_group(g)
            return
        object.__setattr__(self, name, value)

    # ---- the step ------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient: ``p.grad = None`` (torch's default), or with
        ``set_to_none=False`` a new array of zeros (never an in-place write)."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.grad)

    def step(self) -> None:
        """Update every parameter that has a gradient, with its group's hyperparameters.

        Parameters with ``grad None`` (unused in the last forward pass) are skipped and
        their state is left unchanged. A gradient whose shape differs from its parameter's
        is an error (it is never broadcast: that would change the parameter's shape).
        Everything is checked before anything is updated: an error changes nothing.
        """
        kind = type(self).__name__
        # (position in params and state, parameter, gradient, group)
        work: list[tuple[int, Tensor, np.ndarray | None, ParamGroup]] = []
        for gi, group in enumerate(self.param_groups):
            self._recheck(group)
            for p in group["params"]:
                i = len(work)  # groups hold the parameters in the order of self.params
                grad = p.grad
                if grad is not None and type(grad) is not np.ndarray:
                    grad = np.asarray(grad)
                if grad is not None and grad.shape != p.data.shape:
                    raise ValueError(f"{kind}.step: parameter {i} ({p.name or 'unnamed'}, group "
                                     f"{gi}) has shape {p.shape} but its .grad has shape "
                                     f"{grad.shape}; a gradient must have its parameter's "
                                     f"shape (was .grad set by hand?)")
                work.append((i, p, grad, group))
        for i, p, grad, group in work:
            if grad is not None:
                new = self._update(p.data, grad, self.state[i], group)
                # np.asarray: NumPy turns 0-d results into scalars; float32 stays float32
                p.data = np.asarray(new, dtype=p.data.dtype)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                group: Mapping[str, Any]) -> np.ndarray:
        """Return the new parameter array; may replace entries of ``state`` (never mutate)."""
        raise NotImplementedError

    @staticmethod
    def _step_count(state: Mapping[str, np.ndarray]) -> int:
        """t of this update (1, 2, ...), stored back by the caller as ``state["step"]``."""
        return int(state["step"]) + 1 if "step" in state else 1

    def _state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        """The state a parameter of ``group`` has after its first update."""
        return self.state_names

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Hyperparameters and per-parameter state as a flat dict of NumPy arrays (copies).

        Keys: each hyperparameter of group 0 by name (``"lr"``, ``"betas"``, ...), those of
        group k ≥ 1 as ``"group<k>.<name>"``, and ``"<i>.<name>"`` for the state of
        parameter ``i`` (``"0.momentum_buffer"``, ``"2.exp_avg"``, ``"2.step"``), ``i``
        being the position in ``params``, as in torch.
        """
        out = {}
        for k, group in enumerate(self.param_groups):
            prefix = "" if k == 0 else f"group{k}."
            for name in self.checks:
                out[prefix + name] = np.asarray(group[name]).copy()
        for i, st in enumerate(self.state):
            for name, value in st.items():
                out[f"{i}.{name}"] = value.copy()
        return out

    def _hyper_key(self, key: str) -> tuple[int, str] | None:
        if key in self.checks:
            return 0, key
        m = _GROUP_KEY.match(key)
        if m and 0 < int(m.group(1)) < len(self.param_groups) and m.group(2) in self.checks:
            return int(m.group(1)), m.group(2)
        return None

    def _loaded_groups(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The hyperparameters in ``state``, group by group, checked (raises on errors)."""
        kind = type(self).__name__
        groups: list[dict[str, Any]] = [{} for _ in self.param_groups]
        for key, value in state.items():
            where = self._hyper_key(key)
            if where is not None:
                k, name = where
                like = self.param_groups[k][name]
                groups[k][name] = self._check_one(name, _from_array(kind, key,
                                                                    np.asarray(value), like))
        for group in groups:
            self._check_group(group)
        return groups

    def check_state_dict(self, state: Mapping[str, Any]) -> None:
        """Validate ``state`` for ``load_state_dict`` without loading anything.

        Raises KeyError for missing/unexpected keys and ValueError for a state array of the
        wrong shape (naming the key and both shapes), a negative or NaN second moment, a
        step count that is not a non-negative integer, or a bad hyperparameter.
        """
        kind = type(self).__name__
        expected = [("" if k == 0 else f"group{k}.") + n
                    for k in range(len(self.param_groups)) for n in self.checks]
        missing = [h for h in expected if h not in state]
        unexpected = []
        for key in state:
            if self._hyper_key(key) is not None:
                continue
            m = _STATE_KEY.match(key)
            if m is None or int(m.group(1)) >= len(self.params) \
                    or m.group(2) not in self.state_names:
                unexpected.append(key)
        if missing or unexpected:
            raise KeyError(f"{kind}.load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}; expected the hyperparameters {expected} and "
                           f"'<i>.<name>' with i < {len(self.params)} and name in "
                           f"{list(self.state_names)}")
        groups = self._loaded_groups(state)
        group_of = {id(p): k for k, g in enumerate(self.param_groups) for p in g["params"]}
        for key, value in state.items():
            m = _STATE_KEY.match(key)
            if m is not None:
                self._check_state_array(key, int(m.group(1)), m.group(2), np.asarray(value))
        for i, p in enumerate(self.params):
            names = self._state_names({**self.param_groups[group_of[id(p)]],
                                       **groups[group_of[id(p)]]})
            present = [n for n in self.state_names if f"{i}.{n}" in state]
            if present and sorted(present) != sorted(names):
                raise KeyError(f"{kind}.load_state_dict: parameter {i} has state {present} "
                               f"but needs all of {list(names)}")

    def _check_state_array(self, key: str, i: int, name: str, array: np.ndarray) -> None:
        kind = type(self).__name__
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{kind}.load_state_dict: {key!r} has dtype {array.dtype}; state "
                            f"must be numeric")
        if name == "step":
            if array.shape != () or array.dtype.kind == "b" or not np.isfinite(array) \
                    or array != np.round(array) or array < 0:
                raise ValueError(f"{kind}.load_state_dict: {key!r} must be a non-negative whole "
                                 f"number (the count of updates), got {array!r}")
            return
        param = self.params[i]
        if array.shape != param.shape:
            raise ValueError(f"{kind}.load_state_dict: {key!r} has shape {array.shape}, "
                             f"expected {param.shape} (parameter {i} has shape "
                             f"{param.shape}); was it saved for another model?")
        bad = ~(array >= 0)  # NaN counts as bad
        if name in self.nonnegative_state and bad.any():
            raise ValueError(f"{kind}.load_state_dict: {key!r} holds negative or NaN values "
                             f"(e.g. {array[bad].flat[0]}); a sum or average of squared "
                             f"gradients is never negative: the state is corrupt")

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by ``state_dict()``.

        Everything is validated first (``check_state_dict``); nothing changes on an error.
        State arrays are converted to their parameter's dtype (as torch does).
        """
        self.check_state_dict(state)
        for group, values in zip(self.param_groups, self._loaded_groups(state), strict=True):
            for name, value in values.items():
                group[name] = value
        new_state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        for key, value in state.items():
            m = _STATE_KEY.match(key)
            if m is None:
                continue
            i, name = int(m.group(1)), m.group(2)
            array = np.array(value)
            array = array.astype(np.int64) if name == "step" \
                else array.astype(self.params[i].dtype)
            new_state[i][name] = array
        self.state = new_state

    def __repr__(self) -> str:
        groups = []
        for group in self.param_groups:
            hyper = ", ".join(f"{h}={group[h]!r}" for h in self.checks)
            groups.append(f"[{len(group['params'])} parameters, {hyper}]")
        return f"{type(self).__name__}({'; '.join(groups)})"


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
