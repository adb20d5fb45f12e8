"""``Module`` and ``Parameter``: named, trainable tensors grouped into reusable blocks.

A module owns parameters (and sub-modules) as attributes; ``named_parameters()`` walks them
in attribute (insertion) order, iteratively, listing a shared parameter once. Names follow
PyTorch (``weight_ih_l0``, ``layers.0.weight``) so a PyTorch state dict converted to NumPy
arrays loads unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.context import scope
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.tensor_methods import parse_to


class Parameter(Tensor):
    """A leaf tensor that a module trains: ``requires_grad=True`` and floating point."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None, name: str | None = None) -> None:
        array = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype)
        if array.dtype.kind != "f":
            array = array.astype(np.float32)
        super().__init__(array, requires_grad=True, name=name)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class: subclasses set parameters/sub-modules in ``__init__`` and define
    ``forward``; calling the module runs ``forward``.

    ``scope_name``: if set (the cells set their class name), every call runs inside
    ``scope(scope_name)``, so each node the module creates knows which module made it.
    """

    scope_name: str | None = None
    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before setting "
                               f"attributes")
        if name in self._parameters and value is not None and not isinstance(value, Parameter):
            # (torch's rule: silently dropping the parameter would leave it out of
            # parameters(), the optimizer and state_dict)
            raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as "
                            f"parameter {name!r} (a Parameter or None is expected); wrap it: "
                            f"nn.Parameter(...), or assign to .data to change the values")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = name
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.scope_name is None:
            return self.forward(*args, **kwargs)
        with scope(self.scope_name):
            return self.forward(*args, **kwargs)

    # ---- traversal ----------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every sub-module, pre-order, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in definition order; a shared parameter appears once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``None``, or new zeros with
        ``set_to_none=False``)."""
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.grad)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    # ---- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's array, by dotted name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Load arrays by name. The arrays' dtype is kept (float64 in, float64 parameters).

        Raises KeyError on missing or unexpected keys (when ``strict``) and ValueError on a
        shape mismatch, naming the module, the key and both shapes. Nothing is loaded
        unless everything fits.
        """
        own = dict(self.named_parameters())
        kind = type(self).__name__
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"{kind}.load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}; expected exactly {list(own)}")
        arrays = {}
        for key, p in own.items():
            if key not in state:
                continue
            value = state[key]
            array = np.array(value.data if isinstance(value, Tensor) else value)
            if array.shape != p.shape:
                raise ValueError(f"{kind}.load_state_dict: {key!r} has shape {array.shape}, "
                                 f"the parameter has shape {p.shape}")
            if array.dtype.kind != "f":
                raise TypeError(f"{kind}.load_state_dict: {key!r} has dtype {array.dtype}; "
                                f"parameters need floating-point arrays")
            arrays[key] = array
        for key, array in arrays.items():
            own[key].data = array
            own[key].grad = None

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert every parameter, in place: ``to(np.float64)`` (e.g. for gradcheck),
        ``to(dtype=...)``, ``to(other_tensor)``. There are no devices (every array is a
        NumPy array in main memory): ``to('cpu')`` changes nothing, any other device is an
        error. Only floating dtypes are accepted (parameters are trained)."""
        dtype = parse_to(f"{type(self).__name__}.to", args, kwargs)
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters need a floating dtype "
                            f"(np.float32 or np.float64), got {dtype}")
        for p in self.parameters():
            if p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                p.grad = None
        return self

    def cpu(self) -> Module:
        """The module itself: every parameter already lives in main memory."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Module:
        raise ValueError(f"{type(self).__name__}.cuda: tinygrad_rnn has no devices: every "
                         f"parameter is a NumPy array in main memory (see 'Coming from "
                         f"PyTorch' in the docs)")

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return "\n".join(lines) + ("\n)" if len(lines) > 1 else ")")
