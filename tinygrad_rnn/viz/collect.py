"""Reading the graph to draw: every tensor behind the roots, and the gradient on each edge.

Walk: ``engine.topological_order(root, all_inputs=True)`` (iterative) finds every tensor the
root depends on; they are numbered in creation order, so the same program always gives the
same DOT text (no Python ids, no global counters appear in it).

Edge gradients: the gradient that flows back along u -> v is the vector-Jacobian product of
v's op for input u, recomputed here from v's gradient (``grads.py``; ops keep what their
backward needs, and backward has no side effects). For a weight's edge into step t it is
that step's term of the BPTT sum -- the same array ``backward(contributions=True)``
records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_rnn.engine import topological_order, unbroadcast
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz.grads import vjps as replay
from tinygrad_rnn.viz.scopes import split_time
from tinygrad_rnn.viz.views import Key, NodeSpec


@dataclass
class Edge:
    """One drawn edge: the gradient arrays that flow back along it (one per merged use)."""

    grads: list[np.ndarray] = field(default_factory=list)
    uses: int = 0  # uses of a parameter merged into this edge (labelled ×n when > 1)
    names: list[str] = field(default_factory=list)
    cut: bool = False  # the detach() edge of truncated BPTT

    def norm(self) -> float | None:
        """‖sum of the merged gradients‖ (one use: that use's contribution)."""
        return norm(sum(self.grads[1:], self.grads[0])) if self.grads else None


def roots_of(root: Any) -> list[Tensor]:
    if isinstance(root, Tensor):
        return [root]
    if isinstance(root, Sequence) and root and all(isinstance(r, Tensor) for r in root):
        return list(root)
    raise TypeError(f"draw: root must be a Tensor or a non-empty list of Tensors, got "
                    f"{type(root).__name__}")


def collect(roots: list[Tensor], cutoff: bool,
            limit: int) -> tuple[list[Tensor], set[Tensor]]:
    """Every tensor the roots depend on (constants included), in creation order, and the
    'ghost' tensors: the still-alive history behind each detach() (at most ``limit``)."""
    seen: set[Tensor] = set()
    for r in roots:
        seen.update(topological_order(r, all_inputs=True))
    ghosts: set[Tensor] = set()
    if cutoff:
        queue = [t for t in seen if t._origin is not None]
        while queue and len(ghosts) < limit:
            ref = queue.pop()._origin
            origin = ref() if ref is not None else None
            if origin is None or origin in seen or origin in ghosts:
                continue
            for t in topological_order(origin, all_inputs=True):
                if t not in seen and t not in ghosts:
                    ghosts.add(t)
                    if t._origin is not None:
                        queue.append(t)
    return sorted(seen | ghosts, key=lambda t: t._id), ghosts


def is_inline_constant(t: Tensor) -> bool:
    """A one-element unnamed constant (the 1.0 in 1 - z): shown inside its op's label."""
    return (t.grad_fn is None and not t.requires_grad and t.data.size == 1 and not t.name
            and t._origin is None)


def _made_in(t: Tensor, cell: NodeSpec) -> bool:
    """Whether tensor t was made in the scope that the collapsed ``cell`` node stands for
    (and in the same time step)."""
    return t.grad_fn is not None and any(m.scope == t.scope for m in cell.members[:1])


def edges_of(tensors: list[Tensor], rep: dict[Tensor, Key], inline: set[Tensor],
             view: str, ghosts: set[Tensor], nodes: dict[Key, NodeSpec],
             grads: Mapping[Tensor, np.ndarray]) -> dict[tuple[Key, Key], Edge]:
    """Drawn edges (deduplicated, in creation order), each with the gradient arrays that
    flow back along it (recomputed from ``grads``, every drawn tensor's gradient)."""
    edges: dict[tuple[Key, Key], Edge] = {}
    for v in tensors:
        fn = v.grad_fn
        if fn is None:
            continue
        vjps: Sequence[np.ndarray | None] | None = None
        for i, u in enumerate(fn.inputs):
            if u in inline:
                continue
            src, dst = rep[u], rep[v]
            if nodes[src].kind == "state" and nodes[dst].kind == "cell" \
                    and _made_in(u, nodes[dst]):
                continue  # c_t read again inside the cell that made it: an internal edge
            if src == dst:
                # inside one collapsed node; in the folded view a step-to-step edge inside
                # the same cell is the recurrence: the self-loop
                if view != "folded" or split_time(u.scope)[1] == split_time(v.scope)[1]:
                    continue
            e = edges.setdefault((src, dst), Edge())
            if u.grad_fn is None and u.requires_grad:
                e.uses += 1  # one more use of a parameter (labelled ×n when merged)
            if u.name and u.name not in e.names:
                e.names.append(u.name)
            if v in grads and u.requires_grad and v not in ghosts:
                if vjps is None:
                    vjps = replay(v, grads[v]) or ()
                g = vjps[i] if i < len(vjps) else None
                if g is not None:
                    e.grads.append(unbroadcast(np.asarray(g), u.shape))
    for d in tensors:  # the cut edges of truncated BPTT
        ref = d._origin
        origin = ref() if ref is not None else None
        if origin is not None and origin in rep:
            edges.setdefault((rep[origin], rep[d]), Edge()).cut = True
    return edges


def norm(a: Any) -> float | None:
    """The Frobenius norm in float64 (inf/NaN pass through), None for no array."""
    if a is None:
        return None
    a = np.asarray(a)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(np.sum(np.square(a.astype(np.float64)))))


def node_norm(spec: NodeSpec, grads: Mapping[Tensor, np.ndarray]) -> float | None:
    """The largest ‖grad‖ among the tensors a node stands for (None: no gradient)."""
    if spec.ghost:
        return None
    norms = [n for n in (norm(grads.get(t)) for t in spec.members) if n is not None]
    if not norms:
        return None
    return max(norms, key=lambda n: n if math.isfinite(n) else math.inf)


def param_names(params: Any) -> dict[Tensor, str]:
    """{tensor: name} from a Module, a mapping or an iterable of (name, tensor)."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    elif isinstance(params, Mapping):
        params = params.items()
    names: dict[Tensor, str] = {}
    for item in params:
        if isinstance(item, Tensor) or not (isinstance(item, tuple | list) and len(item) == 2
                                            and isinstance(item[1], Tensor)):
            raise TypeError(f"params: expected a Module, a dict or (name, tensor) pairs "
                            f"(e.g. params=model or model.named_parameters()), got an item "
                            f"that is a {type(item).__name__} -- model.parameters() gives "
                            f"the tensors without their names")
        names[item[1]] = str(item[0])
    return names
