"""The training-loop loss, hand-written: a Linear head on every step's output and the mean
squared error, L = mean over (t, b, o) of (h_t·Wᵀ + b − y_t)², with its gradients.

    hs      (T, B, H)   the recurrent layer's outputs h_1 .. h_T
    weight  (O, H)      bias (O,)      (torch's nn.Linear layout)
    y       (T, B, O)   the targets

With Y = hs·Wᵀ + b and N = T·B·O elements, dL/dY = 2(Y − y)/N, so

    dL/dW = (dL/dY)ᵀ·hs    dL/db = Σ_rows dL/dY    dL/dhs = (dL/dY)·W

each one matmul (or sum) over all T·B rows. ``bptt_head`` hands dL/dhs to the hand-written
BPTT of ``numpy_bptt`` (which takes a loss function in place of its cotangent G).
"""

from __future__ import annotations

import numpy as np
import numpy_bptt as nb

HEAD_NAMES = ("head_weight", "head_bias")


def init_head(hidden_size: int, out_size: int, dtype=np.float32, seed: int = 2) -> nb.Params:
    """torch's nn.Linear initialisation: W, b ~ U(−1/√H, 1/√H)."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden_size)
    return {"head_weight": rng.uniform(-k, k, (out_size, hidden_size)).astype(dtype),
            "head_bias": rng.uniform(-k, k, out_size).astype(dtype)}


def make_targets(steps: int, batch: int, out_size: int, dtype=np.float32,
                 seed: int = 3) -> np.ndarray:
    """Random targets y (T, B, O)."""
    return np.random.default_rng(seed).standard_normal((steps, batch, out_size)).astype(dtype)


def head_mse(head: nb.Params, y: np.ndarray, grads: nb.Params) -> nb.LossFn:
    """The loss function hs -> (L, dL/dhs) of the head + MSE; it writes the head's own
    gradients into ``grads``."""
    W = head["head_weight"]
    b = head["head_bias"]
    T, B, O = y.shape
    Y_target = y.reshape(T * B, O)

    def loss(hs: np.ndarray) -> tuple[float, np.ndarray]:
        H = hs.shape[2]
        Hs = hs.reshape(T * B, H)  # a view: hs is contiguous
        dY = Hs @ W.T  # Y, then Y − y, then dL/dY, in one array
        dY += b
        dY -= Y_target
        n = dY.size
        value = float(np.vdot(dY, dY)) / n
        dY *= 2 / n  # a Python float: float32 stays float32
        grads["head_weight"] = dY.T @ Hs
        grads["head_bias"] = dY.sum(axis=0)
        return value, (dY @ W).reshape(T, B, H)

    return loss


def bptt_head(model: str, x: np.ndarray, params: nb.Params, head: nb.Params,
              y: np.ndarray, *, fused: bool = True) -> nb.Result:
    """L = mean((RNN(x)·Wᵀ + b − y)²) and its gradients for the recurrent weights (keyed
    like ``numpy_bptt.PARAM_NAMES``) and the head (``HEAD_NAMES``)."""
    dtype = x.dtype
    head = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in head.items()}
    y = np.ascontiguousarray(y, dtype=dtype)
    if y.shape != x.shape[:2] + (head["head_weight"].shape[0],):
        raise ValueError(f"y has shape {y.shape}, expected "
                         f"{x.shape[:2] + (head['head_weight'].shape[0],)}")
    head_grads: nb.Params = {}
    loss, grads = nb.bptt(model, x, params, head_mse(head, y, head_grads), fused=fused)
    grads.update(head_grads)
    return loss, grads
