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
"""

from tinygrad_rnn import fast
from tinygrad_rnn.context import (
    current_scope,
    enable_grad,
    is_grad_enabled,
    lean_graph,
    no_grad,
    scope,
)
from tinygrad_rnn.creation import (
    cat,
    concat,
    ones,
    randn,
    stack,
    tensor,
    uniform,
    where,
    zeros,
)
from tinygrad_rnn.engine import Contribution, topological_order
from tinygrad_rnn.fast import gc_paused
from tinygrad_rnn.fast import rules as _fast_rules  # noqa: F401  (registers the fast rules)
from tinygrad_rnn.function import Function, ShapeError
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck
from tinygrad_rnn.rng import manual_seed
from tinygrad_rnn.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "Contribution",
    "fast",
    "Function",
    "GradcheckError",
    "ShapeError",
    "Tensor",
    "__version__",
    "cat",
    "concat",
    "current_scope",
    "enable_grad",
    "gc_paused",
    "gradcheck",
    "is_grad_enabled",
    "lean_graph",
    "manual_seed",
    "no_grad",
    "ones",
    "randn",
    "scope",
    "stack",
    "tensor",
    "topological_order",
    "uniform",
    "where",
    "zeros",
]
