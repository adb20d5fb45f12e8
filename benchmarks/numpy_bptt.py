"""Hand-written backpropagation through time in plain NumPy: the speed limit.

Every framework in ``run.py`` is measured against these functions. They compute, for an
Elman RNN (tanh), a GRU and an LSTM with PyTorch's weight layout and gate order,

    the loss  L = Σ_t ⟨h_t, G_t⟩           (G: a fixed cotangent of shape (T, B, H), so
                                             every step's output receives a gradient)
    and dL/d weight_ih, weight_hh, bias_ih, bias_hh,

with the forward pass and the backward pass (BPTT) written out by hand. The initial state
is zero; the gradient with respect to the input x is not computed (the frameworks are
benchmarked with an x that does not require a gradient).

Shapes (torch's, G gates: RNN 1, GRU 3, LSTM 4):

    x          (T, B, I)           time-major
    weight_ih  (G·H, I)            weight_hh  (G·H, H)
    bias_ih    (G·H,)              bias_hh    (G·H,)

Gate order (rows of the weights, in blocks of H):

    LSTM  i, f, g, o      c' = f*c + i*g,  h' = o*tanh(c')          i, f, o = σ(.), g = tanh(.)
    GRU   r, z, n         n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),  h' = (1−z)*n + z*h

Two forms of each model:

* ``*_fused`` -- the fast form. The input projection x·W_ihᵀ does not depend on the
  recurrence, so it is hoisted out of the time loop as ONE (T·B, I) @ (I, G·H) matmul.
  Likewise, once the backward loop has stored the gradient of every step's
  pre-activations, the weight gradients are sums over steps that collapse into one matmul
  each after the loop: dW_ih = dAᵀ·X over all T·B rows (and dW_hh = dAᵀ·H_prev the same
  way). Only the truly sequential work -- h_{t-1} @ W_hhᵀ forwards and dA_t @ W_hh
  backwards -- stays in the loop.
* ``*_per_step`` -- everything inside the loop: each step does its own input matmul and
  adds its own contribution to every weight gradient. This is what a framework that runs
  a cell once per step (and lets the engine sum the contributions) is doing.

Both forms preallocate their arrays, work in place where it is safe (``out=`` and
augmented assignment), and keep the caller's float dtype: float32 in, float32 everywhere
(NumPy 2 treats Python numbers as "weak", so ``1 - a`` stays float32).

The sigmoid is computed as σ(a) = (1 + tanh(a/2)) / 2: the same function as 1/(1 + e^−a),
about as fast in NumPy, and it never overflows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MODELS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

Params = dict[str, np.ndarray]
Result = tuple[float, Params]  # (loss, gradients keyed like the parameters)
# A loss of the outputs: hs (T, B, H) -> (L, dL/dhs). Every function below also takes one
# in place of G, e.g. a Linear head with squared error (numpy_head.py).
LossFn = Callable[[np.ndarray], tuple[float, np.ndarray]]


# ---- helpers ----------------------------------------------------------------------------

def init_params(model: str, input_size: int, hidden_size: int, dtype=np.float32,
                seed: int = 0) -> Params:
    """torch's initialisation: every parameter drawn from U(−1/√H, 1/√H)."""
    g = GATES[model] * hidden_size
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden_size)
    shapes = {"weight_ih": (g, input_size), "weight_hh": (g, hidden_size),
              "bias_ih": (g,), "bias_hh": (g,)}
    return {name: rng.uniform(-k, k, shape).astype(dtype) for name, shape in shapes.items()}


def make_inputs(steps: int, batch: int, input_size: int, hidden_size: int, dtype=np.float32,
                seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A random input x (T, B, I) and cotangent G (T, B, H)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, batch, input_size)).astype(dtype)
    G = rng.standard_normal((steps, batch, hidden_size)).astype(dtype)
    return x, G


def _prepare(x: np.ndarray, p: Params, G: np.ndarray | LossFn):
    """The arrays in x's float dtype, C-contiguous (no copy when they already are); a loss
    function passed for G is returned as it is."""
    x = np.ascontiguousarray(x)
    if x.dtype.kind != "f" or x.ndim != 3:
        raise TypeError(f"x must be a float array of shape (T, B, I), got {x.dtype} {x.shape}")
    dtype = x.dtype
    W_ih, W_hh, b_ih, b_hh = (np.ascontiguousarray(p[n], dtype=dtype) for n in PARAM_NAMES)
    if callable(G):
        return x, W_ih, W_hh, b_ih, b_hh, G
    G = np.ascontiguousarray(G, dtype=dtype)
    if G.shape != x.shape[:2] + (W_hh.shape[1],):
        raise ValueError(f"G has shape {G.shape}, expected {x.shape[:2] + (W_hh.shape[1],)}")
    return x, W_ih, W_hh, b_ih, b_hh, G


def _loss(hs: np.ndarray, G: np.ndarray | LossFn) -> tuple[float, np.ndarray]:
    """(L, dL/dhs) for the outputs hs (T, B, H): Σ_t ⟨h_t, G_t⟩ and G, or G's own."""
    if callable(G):
        return G(hs)
    return float(np.vdot(hs, G)), G


def _sigmoid_(a: np.ndarray) -> None:
    """In place: a <- σ(a) = (1 + tanh(a/2)) / 2."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5


def _grads(W_ih, W_hh, b_ih, b_hh) -> Params:
    return {"weight_ih": W_ih, "weight_hh": W_hh, "bias_ih": b_ih, "bias_hh": b_hh}


# ---- Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) ---------------------

def rnn_fused(x: np.ndarray, params: Params, G: np.ndarray | LossFn) -> Result:
    x, W_ih, W_hh, b_ih, b_hh, G = _prepare(x, params, G)
    T, B, I = x.shape
    H = W_hh.shape[1]
    X = x.reshape(T * B, I)

    # forward: the input part of every pre-activation in one matmul
    A = (X @ W_ih.T).reshape(T, B, H)
    A += b_ih + b_hh
    hs = np.zeros((T + 1, B, H), x.dtype)  # hs[0] = h_0 = 0, hs[t + 1] = h_t
    for t in range(T):
        h = hs[t + 1]
        np.matmul(hs[t], W_hh.T, out=h)
        h += A[t]
        np.tanh(h, out=h)
    loss, G = _loss(hs[1:], G)

    # backward: dA[t] = dL/d(pre-activation at step t)
    dA = np.empty((T, B, H), x.dtype)
    dh = np.zeros((B, H), x.dtype)  # dL/dh_t arriving from step t + 1
    for t in reversed(range(T)):
        dh += G[t]  # ... plus the loss's own gradient at step t
        d = dA[t]
        np.multiply(hs[t + 1], hs[t + 1], out=d)
        np.subtract(1, d, out=d)  # tanh' = 1 − h²
        d *= dh
        if t:  # dL/dh_{t-1}; h_0 is a constant, so the last step needs none
            np.matmul(d, W_hh, out=dh)

    # the weight gradients: the sums over steps, each as one matmul over all T·B rows
    D = dA.reshape(T * B, H)
    db = D.sum(axis=0)
    return loss, _grads(D.T @ X, D.T @ hs[:-1].reshape(T * B, H), db, db.copy())


def rnn_per_step(x: np.ndarray, params: Params, G: np.ndarray | LossFn) -> Result:
    x, W_ih, W_hh, b_ih, b_hh, G = _prepare(x, params, G)
    T, B, I = x.shape
    H = W_hh.shape[1]
    b = b_ih + b_hh
    tmp = np.empty((B, H), x.dtype)

    hs = np.zeros((T + 1, B, H), x.dtype)
    for t in range(T):
        h = hs[t + 1]
        np.matmul(x[t], W_ih.T, out=h)
        np.matmul(hs[t], W_hh.T, out=tmp)
        h += tmp
        h += b
        np.tanh(h, out=h)
    loss, G = _loss(hs[1:], G)

    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db = np.zeros_like(b)
    tmp_ih, tmp_hh = np.empty_like(W_ih), np.empty_like(W_hh)
    d = np.empty((B, H), x.dtype)
    dh = np.zeros((B, H), x.dtype)
    for t in reversed(range(T)):
        dh += G[t]
        np.multiply(hs[t + 1], hs[t + 1], out=d)
        np.subtract(1, d, out=d)
        d *= dh
        # this step's contribution to each weight gradient
        dW_ih += np.matmul(d.T, x[t], out=tmp_ih)
        dW_hh += np.matmul(d.T, hs[t], out=tmp_hh)
        db += d.sum(axis=0)
        if t:
            np.matmul(d, W_hh, out=dh)
    return loss, _grads(dW_ih, dW_hh, db, db.copy())


# ---- LSTM (gates i, f, g, o) ------------------------------------------------------------

def _lstm_cell_forward(z: np.ndarray, c_prev: np.ndarray, c: np.ndarray, tanh_c: np.ndarray,
                       h: np.ndarray, tmp: np.ndarray) -> None:
    """One step, in place: z (B, 4H) holds the gate pre-activations on entry and the gate
    activations i, f, g, o on exit; writes c_t into c, tanh(c_t) into tanh_c, h_t into h."""
    H = c.shape[1]
    i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    _sigmoid_(z[:, :2 * H])  # i and f are adjacent: one call for both
    np.tanh(g, out=g)
    _sigmoid_(o)
    np.multiply(f, c_prev, out=c)  # c_t = f*c_{t-1} + i*g
    np.multiply(i, g, out=tmp)
    c += tmp
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)  # h_t = o*tanh(c_t)


def _lstm_cell_backward(z: np.ndarray, c_prev: np.ndarray, tanh_c: np.ndarray,
                        dh: np.ndarray, dc: np.ndarray, d: np.ndarray,
                        tmp: np.ndarray) -> None:
    """One step backwards. On entry dh = dL/dh_t (all of it), dc = dL/dc_t from step t+1
    only; writes dL/d(gate pre-activations) into d (B, 4H) and leaves in dc the
    dL/dc_{t-1} that flows through c (dL/dh_{t-1} = d @ W_hh is the caller's)."""
    H = dh.shape[1]
    i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    di, df, dg, do = d[:, :H], d[:, H:2 * H], d[:, 2 * H:3 * H], d[:, 3 * H:]
    # h = o * tanh(c):  dc += dh * o * (1 − tanh²c),  do_pre = dh * tanh(c) * o(1 − o)
    np.multiply(tanh_c, tanh_c, out=tmp)
    np.subtract(1, tmp, out=tmp)
    tmp *= o
    tmp *= dh
    dc += tmp
    np.subtract(1, o, out=do)
    do *= o
    do *= tanh_c
    do *= dh
    # c = f*c_prev + i*g:  di_pre = dc*g*i(1−i),  df_pre = dc*c_prev*f(1−f),
    #                      dg_pre = dc*i*(1 − g²)
    dif = d[:, :2 * H]  # i and f are adjacent: σ' = s(1 − s) for both in one pass
    np.subtract(1, z[:, :2 * H], out=dif)
    dif *= z[:, :2 * H]
    di *= g
    di *= dc
    df *= c_prev
    df *= dc
    np.multiply(g, g, out=dg)
    np.subtract(1, dg, out=dg)
    dg *= i
    dg *= dc
    dc *= f  # dL/dc_{t-1} through c_t = f*c_{t-1} + ...


def lstm_fused(x: np.ndarray, params: Params, G: np.ndarray | LossFn) -> Result:
    x, W_ih, W_hh, b_ih, b_hh, G = _prepare(x, params, G)
    T, B, I = x.shape
    H = W_hh.shape[1]
    X = x.reshape(T * B, I)
    dt = x.dtype

    # forward. Z[t] holds the input part of the pre-activations, then the gate activations.
    Z = (X @ W_ih.T).reshape(T, B, 4 * H)
    Z += b_ih + b_hh
    hs = np.zeros((T + 1, B, H), dt)  # h_0 .. h_T
    cs = np.zeros((T + 1, B, H), dt)  # c_0 .. c_T
    tanh_cs = np.empty((T, B, H), dt)  # tanh(c_1) .. tanh(c_T)
    tmp4 = np.empty((B, 4 * H), dt)
    tmp = np.empty((B, H), dt)
    for t in range(T):
        z = Z[t]
        z += np.matmul(hs[t], W_hh.T, out=tmp4)
        _lstm_cell_forward(z, cs[t], cs[t + 1], tanh_cs[t], hs[t + 1], tmp)
    loss, G = _loss(hs[1:], G)

    # backward
    dZ = np.empty((T, B, 4 * H), dt)  # dL/d(gate pre-activations)
    dh = np.zeros((B, H), dt)
    dc = np.zeros((B, H), dt)
    for t in reversed(range(T)):
        dh += G[t]
        _lstm_cell_backward(Z[t], cs[t], tanh_cs[t], dh, dc, dZ[t], tmp)
        if t:
            np.matmul(dZ[t], W_hh, out=dh)

    D = dZ.reshape(T * B, 4 * H)
    db = D.sum(axis=0)
    return loss, _grads(D.T @ X, D.T @ hs[:-1].reshape(T * B, H), db, db.copy())


def lstm_per_step(x: np.ndarray, params: Params, G: np.ndarray | LossFn) -> Result:
    x, W_ih, W_hh, b_ih, b_hh, G = _prepare(x, params, G)
    T, B, I = x.shape
    H = W_hh.shape[1]
    dt = x.dtype
    b = b_ih + b_hh

    Z = np.empty((T, B, 4 * H), dt)  # gate activations of every step (kept for backward)
    hs = np.zeros((T + 1, B, H), dt)
    cs = np.zeros((T + 1, B, H), dt)
    tanh_cs = np.empty((T, B, H), dt)
    tmp4 = np.empty((B, 4 * H), dt)
    tmp = np.empty((B, H), dt)
    for t in range(T):
        z = Z[t]
        np.matmul(x[t], W_ih.T, out=z)
        z += np.matmul(hs[t], W_hh.T, out=tmp4)
        z += b
        _lstm_cell_forward(z, cs[t], cs[t + 1], tanh_cs[t], hs[t + 1], tmp)
    loss, G = _loss(hs[1:], G)

    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db = np.zeros_like(b)
    tmp_ih, tmp_hh = np.empty_like(W_ih), np.empty_like(W_hh)
    d = np.empty((B, 4 * H), dt)
    dh = np.zeros((B, H), dt)
    dc = np.zeros((B, H), dt)
    for t in reversed(range(T)):
        dh += G[t]
        _lstm_cell_backward(Z[t], cs[t], tanh_cs[t], dh, dc, d, tmp)
        dW_ih += np.matmul(d.T, x[t], out=tmp_ih)
        dW_hh += np.matmul(d.T, hs[t], out=tmp_hh)
        db += d.sum(axis=0)
        if t:
            np.matmul(d, W_hh, out=dh)
    return loss, _grads(dW_ih, dW_hh, db, db.copy())


# ---- GRU (gates r, z, n) ----------------------------------------------------------------
#
# With a = x W_ihᵀ + b_ih and m = h_{t-1} W_hhᵀ + b_hh, split in blocks (r, z, n):
#     r = σ(a_r + m_r),  z = σ(a_z + m_z),  n = tanh(a_n + r*m_n),  h_t = n + z*(h_{t-1} − n)
# Unlike the LSTM, the input side and the hidden side of the n gate get different
# gradients: dL/da_n = dn_pre but dL/dm_n = dn_pre * r. So the backward pass keeps the
# hidden-side gradient dM = (dr_pre, dz_pre, dn_pre*r) and dN = dn_pre apart.

def _gru_cell_forward(a: np.ndarray, m: np.ndarray, h_prev: np.ndarray, h: np.ndarray,
                      tmp: np.ndarray) -> None:
    """In place: a (B, 3H) = input-side pre-activations on entry, gates r, z, n on exit;
    m (B, 3H) = hidden side h_{t-1} W_hhᵀ + b_hh (m_n is kept for backward)."""
    H = h.shape[1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    rz = a[:, :2 * H]
    rz += m[:, :2 * H]
    _sigmoid_(rz)
    np.multiply(r, m[:, 2 * H:], out=tmp)
    n += tmp
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)  # h_t = n + z*(h_{t-1} − n)
    h *= z
    h += n


def _gru_cell_backward(a: np.ndarray, m_n: np.ndarray, h_prev: np.ndarray, dh: np.ndarray,
                       dm: np.ndarray, dn: np.ndarray, tmp: np.ndarray) -> None:
    """One step backwards. dh = dL/dh_t on entry; writes the hidden-side gradient
    (dr_pre, dz_pre, dn_pre*r) into dm (B, 3H) and dn_pre into dn (B, H), and leaves in dh
    the part of dL/dh_{t-1} that flows straight through h_t = ... + z*h_{t-1}."""
    H = dh.shape[1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    dr, dz, dmn = dm[:, :H], dm[:, H:2 * H], dm[:, 2 * H:]
    np.subtract(1, z, out=tmp)  # tmp = 1 − z
    # dn_pre = dh * (1 − z) * (1 − n²)
    np.multiply(n, n, out=dn)
    np.subtract(1, dn, out=dn)
    dn *= tmp
    dn *= dh
    # dz_pre = dh * (h_prev − n) * z(1 − z)
    np.subtract(h_prev, n, out=dz)
    dz *= dh
    dz *= z
    dz *= tmp
    # through r*m_n:  dm_n = dn_pre * r,  dr_pre = dn_pre * m_n * r(1 − r)
    np.multiply(dn, r, out=dmn)
    np.subtract(1, r, out=dr)
    dr *= r
    dr *= m_n
    dr *= dn
    dh *= z


def gru_fused(x: np.ndarray, params: Params, G: np.ndarray | LossFn) -> Result:
    x, W_ih, W_hh, b_ih, b_hh, G = _prepare(x, params, G)
    T, B, I = x.shape
    H = W_hh.shape[1]
    X = x.reshape(T * B, I)
    dt = x.dtype

    A = (X @ W_ih.T).reshape(T, B, 3 * H)  # input side, then the gates r, z, n
    A += b_ih
    M = np.empty((T, B, 3 * H), dt)  # hidden side h_{t-1} W_hhᵀ + b_hh of every step
    hs = np.zeros((T + 1, B, H), dt)
    tmp = np.empty((B, H), dt)
    for t in range(T):
        m = M[t]
        np.matmul(hs[t], W_hh.T, out=m)
        m += b_hh
        _gru_cell_forward(A[t], m, hs[t], hs[t + 1], tmp)
    loss, G = _loss(hs[1:], G)

    dM = np.empty((T, B, 3 * H), dt)
    dN = np.empty((T, B, H), dt)
    dh = np.zeros((B, H), dt)
    for t in reversed(range(T)):
        dh += G[t]
        _gru_cell_backward(A[t], M[t, :, 2 * H:], hs[t], dh, dM[t], dN[t], tmp)
        if t:
            dh += np.matmul(dM[t], W_hh, out=tmp)

    D = dM.reshape(T * B, 3 * H)
    dW_hh = D.T @ hs[:-1].reshape(T * B, H)
    db_hh = D.sum(axis=0)
    dM[:, :, 2 * H:] = dN  # now the input-side gradient (dr_pre, dz_pre, dn_pre)
    return loss, _grads(D.T @ X, dW_hh, D.sum(axis=0), db_hh)


def gru_per_step(x: np.ndarray, params: Params, G: np.ndarray | LossFn) -> Result:
    x, W_ih, W_hh, b_ih, b_hh, G = _prepare(x, params, G)
    T, B, I = x.shape
    H = W_hh.shape[1]
    dt = x.dtype

    A = np.empty((T, B, 3 * H), dt)
    M = np.empty((T, B, 3 * H), dt)
    hs = np.zeros((T + 1, B, H), dt)
    tmp = np.empty((B, H), dt)
    for t in range(T):
        a, m = A[t], M[t]
        np.matmul(x[t], W_ih.T, out=a)
        a += b_ih
        np.matmul(hs[t], W_hh.T, out=m)
        m += b_hh
        _gru_cell_forward(a, m, hs[t], hs[t + 1], tmp)
    loss, G = _loss(hs[1:], G)

    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db_ih, db_hh = np.zeros_like(b_ih), np.zeros_like(b_hh)
    tmp_ih, tmp_hh = np.empty_like(W_ih), np.empty_like(W_hh)
    dm = np.empty((B, 3 * H), dt)  # hidden-side gradient of this step
    da = np.empty((B, 3 * H), dt)  # input-side gradient: dm with dn_pre in the n block
    dh = np.zeros((B, H), dt)
    for t in reversed(range(T)):
        dh += G[t]
        _gru_cell_backward(A[t], M[t, :, 2 * H:], hs[t], dh, dm, da[:, 2 * H:], tmp)
        da[:, :2 * H] = dm[:, :2 * H]
        dW_hh += np.matmul(dm.T, hs[t], out=tmp_hh)
        db_hh += dm.sum(axis=0)
        dW_ih += np.matmul(da.T, x[t], out=tmp_ih)
        db_ih += da.sum(axis=0)
        if t:
            dh += np.matmul(dm, W_hh, out=tmp)
    return loss, _grads(dW_ih, dW_hh, db_ih, db_hh)


# ---- dispatch ---------------------------------------------------------------------------

IMPLEMENTATIONS: dict[tuple[str, bool], Callable[..., Result]] = {
    ("rnn", True): rnn_fused, ("rnn", False): rnn_per_step,
    ("gru", True): gru_fused, ("gru", False): gru_per_step,
    ("lstm", True): lstm_fused, ("lstm", False): lstm_per_step,
}


def bptt(model: str, x: np.ndarray, params: Params, G: np.ndarray | LossFn, *,
         fused: bool = True) -> Result:
    """Loss Σ_t ⟨h_t, G_t⟩ (or ``G(hs)`` when G is a loss function) and its gradients for
    ``model`` in ("rnn", "gru", "lstm")."""
    return IMPLEMENTATIONS[model, fused](x, params, G)
