"""tinygrad_rnn: reverse-mode autodiff on NumPy, where backpropagation through time is not
written anywhere -- it emerges from one generic graph walk over the unrolled sequence.

    >>> import tinygrad_rnn as tg
    >>> w = tg.Tensor([[0.5]], requires_grad=True)
    >>> h = tg.zeros(1, 1)
    >>> for t in range(3):              # an RNN is a loop that reuses w
    ...     h = (h @ w + 1.0).tanh()
    >>> h.sum().backward()              # w.grad sums one contribution per step
    >>> w.grad.shape
    (1, 1)

The sub-packages ``tg.nn``, ``tg.optim``, ``tg.functional``, ``tg.viz`` and
``tg.checkpoint`` are imported on first use (``tg.nn.LSTM(...)`` works without an
import of its own), so ``import tinygrad_rnn`` stays quick.
"""

import importlib
from typing import Any

from tinygrad_rnn import fast
from tinygrad_rnn.context import (
    current_scope,
    enable_grad,
    full_graph,
    is_grad_enabled,
    lean_graph,
    no_grad,
    scope,
    set_grad_enabled,
)
from tinygrad_rnn.creation import (
    arange,
    cat,
    concat,
    eye,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    stack,
    tensor,
    uniform,
    where,
    zeros,
    zeros_like,
)
from tinygrad_rnn.engine import Contribution, topological_order
from tinygrad_rnn.fast import gc_paused
from tinygrad_rnn.fast import rules as _fast_rules  # noqa: F401  (registers the fast rules)
from tinygrad_rnn.function import Function, ShapeError
from tinygrad_rnn.functions import (
    abs,
    clamp,
    exp,
    log,
    log_softmax,
    matmul,
    max,
    mean,
    min,
    neg,
    pow,
    relu,
    sigmoid,
    softmax,
    sqrt,
    sum,
    tanh,
)
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck
from tinygrad_rnn.rng import manual_seed
from tinygrad_rnn.tensor import Tensor

__version__ = "0.1.0"

_SUBMODULES = ("checkpoint", "functional", "nn", "optim", "viz")


def __getattr__(name: str) -> Any:
    """Import a sub-package on first use: ``tg.nn``, ``tg.optim``, ... (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])


__all__ = [
    "Contribution",
    "Function",
    "GradcheckError",
    "ShapeError",
    "Tensor",
    "__version__",
    "abs",
    "arange",
    "cat",
    "checkpoint",
    "clamp",
    "concat",
    "current_scope",
    "enable_grad",
    "exp",
    "eye",
    "fast",
    "from_numpy",
    "full",
    "functional",
    "gc_paused",
    "gradcheck",
    "is_grad_enabled",
    "full_graph",
    "lean_graph",
    "log",
    "log_softmax",
    "manual_seed",
    "matmul",
    "max",
    "mean",
    "min",
    "neg",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "pow",
    "rand",
    "randint",
    "randn",
    "relu",
    "scope",
    "set_grad_enabled",
    "sigmoid",
    "softmax",
    "sqrt",
    "stack",
    "sum",
    "tanh",
    "tensor",
    "topological_order",
    "uniform",
    "viz",
    "where",
    "zeros",
    "zeros_like",
]
