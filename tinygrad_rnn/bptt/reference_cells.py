"""Hand-derived forward and backward passes of one recurrent cell, in PyTorch's layout.

Layout (exactly torch.nn.RNNCell / GRUCell / LSTMCell): with G gates stacked along the rows,
weight_ih (G·H, I), weight_hh (G·H, H), bias_ih (G·H,), bias_hh (G·H,), and every gate's
pre-activation is ``x W_ihᵀ + b_ih + h W_hhᵀ + b_hh`` sliced into G blocks of H columns.
Batch convention: x (B, I), every state (B, H); the rows of a batch are independent and
the parameter gradients are summed over them (no mean). 1-D inputs are not supported here.

Each cell has ``*_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None)`` ->
``(new_state, cache)`` and ``*_backward(dstate_new, cache)`` -> dict with "dx", "dh_prev"
(and "dc_prev" for the LSTMs), "dweight_ih", "dweight_hh", and "dbias_ih" / "dbias_hh" when
that bias was given (the peephole LSTM adds "dweight_ch"). ``state`` may be None (zeros).
For the RNN and GRUs the state is h and ``dstate_new`` is dh' (B, H); for the LSTMs the
state is the pair (h, c) and ``dstate_new`` the pair (dh', dc') (dc' may be None: zeros).

Notation: σ is the logistic sigmoid, σ' = σ(1 − σ); tanh' = 1 − tanh²; ⊙ is element-wise.
The backward of ``pre = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh`` is the same for every cell: given
``dpre`` (B, G·H), dW_ih = dpreᵀ x, dW_hh = dpreᵀ h, db = Σ_batch dpre, dx = dpre W_ih,
dh = dpre W_hh (see :func:`_affine_backward`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "gru_backward",
    "gru_forward",
    "lstm_backward",
    "lstm_forward",
    "peephole_lstm_backward",
    "peephole_lstm_forward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "simple_gru_backward",
    "simple_gru_forward",
]


def sigmoid(a):
    """σ(a) = 1 / (1 + e^(−a)), written so that neither sign of a overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _affine(x, weight, bias):
    """x Wᵀ (+ b): (B, I) @ (I, G·H) -> (B, G·H)."""
    out = x @ weight.T
    return out if bias is None else out + bias


def _zeros_state(x, weight_hh):
    return np.zeros((x.shape[0], weight_hh.shape[1]), dtype=np.result_type(x, weight_hh))


def _affine_backward(dgi, dgh, cache) -> dict:
    """Backward of gi = x W_ihᵀ + b_ih and gh = h W_hhᵀ + b_hh, given dgi, dgh (B, G·H).

    (Most cells have dgi = dgh = dpre; the GRU's n gate is the one place they differ.)
    """
    x, h = cache["x"], cache["h_prev"]
    grads = {
        "dx": dgi @ cache["weight_ih"],  # (B, G·H) @ (G·H, I)
        "dh_prev": dgh @ cache["weight_hh"],  # (B, G·H) @ (G·H, H)
        "dweight_ih": dgi.T @ x,  # (G·H, B) @ (B, I): summed over the batch
        "dweight_hh": dgh.T @ h,
    }
    if cache["has_bias_ih"]:
        grads["dbias_ih"] = dgi.sum(axis=0)
    if cache["has_bias_hh"]:
        grads["dbias_hh"] = dgh.sum(axis=0)
    return grads


def _cache(x, h, weight_ih, weight_hh, bias_ih, bias_hh, **values) -> dict:
    return dict(
        x=x,
        h_prev=h,
        weight_ih=weight_ih,
        weight_hh=weight_hh,
        has_bias_ih=bias_ih is not None,
        has_bias_hh=bias_hh is not None,
        **values,
    )


# ---- plain RNN cell ----------------------------------------------------------------------


def rnn_cell_forward(
    x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"
):
    """h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), φ = tanh or relu; weights (H, I), (H, H).

    The lectures' s_t = φ(x_t W_x + s_{t−1} W_s + b) with W_x = W_ihᵀ, W_s = W_hhᵀ, b = b_ih + b_hh.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f'nonlinearity must be "tanh" or "relu", got {nonlinearity!r}')
    h = _zeros_state(x, weight_hh) if state is None else state
    pre = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
    h_new = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)
    cache = _cache(x, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity=nonlinearity)
    cache.update(pre=pre, h_new=h_new)
    return h_new, cache


def rnn_cell_backward(dh_new, cache) -> dict:
    """dpre = dh' ⊙ φ'(pre): tanh' = 1 − h'², relu' = [pre > 0]; then the affine backward."""
    if cache["nonlinearity"] == "tanh":
        dpre = dh_new * (1.0 - cache["h_new"] ** 2)
    else:
        dpre = dh_new * (cache["pre"] > 0)
    return _affine_backward(dpre, dpre, cache)


# ---- GRU (PyTorch) -----------------------------------------------------------------------


def gru_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch's GRU cell, gates (r, z, n); weights (3H, I), (3H, H)::

        r  = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)            relevance (reset) gate Γ_r
        z  = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)            z = 1 − Γ_u
        n  = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))   candidate c̃
        h' = (1 − z) ⊙ n + z ⊙ h

    Mapping to the curriculum's c⟨t⟩ = Γ_u * c̃ + (1 − Γ_u) * c⟨t−1⟩: c = h, c̃ = n, Γ_r = r,
    and torch's z plays 1 − Γ_u (z is the weight of the *old* state: z ≈ 1 keeps it).
    One more difference: the curriculum applies Γ_r before the matrix, W_c[Γ_r * c⟨t−1⟩, x],
    while torch applies r after it, r ⊙ (W_hn h + b_hn); they differ when r is not 0 or 1.
    """
    h = _zeros_state(x, weight_hh) if state is None else state
    gi_r, gi_z, gi_n = np.split(_affine(x, weight_ih, bias_ih), 3, axis=1)
    gh_r, gh_z, gh_n = np.split(_affine(h, weight_hh, bias_hh), 3, axis=1)
    r = sigmoid(gi_r + gh_r)
    z = sigmoid(gi_z + gh_z)
    n = np.tanh(gi_n + r * gh_n)
    h_new = (1.0 - z) * n + z * h
    return h_new, _cache(x, h, weight_ih, weight_hh, bias_ih, bias_hh, r=r, z=z, n=n, gh_n=gh_n)


def gru_backward(dh_new, cache) -> dict:
    """Backward of :func:`gru_forward`, from h' back to its inputs::

        dn = dh' ⊙ (1 − z),   dz = dh' ⊙ (h − n),   dh (direct path) = dh' ⊙ z
        da_n = dn ⊙ (1 − n²)                  (n's pre-activation)
        dr = da_n ⊙ (h W_hnᵀ + b_hn),  da_r = dr ⊙ r(1 − r),  da_z = dz ⊙ z(1 − z)
        dgi = [da_r, da_z, da_n],  dgh = [da_r, da_z, da_n ⊙ r]    (r scales only the h side)

    and then the affine backward with dgi on the x side and dgh on the h side.
    """
    h, r, z, n = cache["h_prev"], cache["r"], cache["z"], cache["n"]
    dn = dh_new * (1.0 - z)
    dz = dh_new * (h - n)
    da_n = dn * (1.0 - n**2)
    dr = da_n * cache["gh_n"]
    da_r = dr * r * (1.0 - r)
    da_z = dz * z * (1.0 - z)
    dgi = np.concatenate([da_r, da_z, da_n], axis=1)
    dgh = np.concatenate([da_r, da_z, da_n * r], axis=1)
    grads = _affine_backward(dgi, dgh, cache)
    grads["dh_prev"] = grads["dh_prev"] + dh_new * z  # h' = … + z ⊙ h: the direct path
    return grads


# ---- the curriculum's simplified GRU (update gate only) ----------------------------------


def simple_gru_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The curriculum's simplified GRU; our layout: gates (u, c), weights (2H, I), (2H, H)::

        Γ_u = σ(x W_iuᵀ + b_iu + h W_huᵀ + b_hu)       update gate
        c̃   = tanh(x W_icᵀ + b_ic + h W_hcᵀ + b_hc)    candidate
        h'  = Γ_u ⊙ c̃ + (1 − Γ_u) ⊙ h                 c⟨t⟩ = Γ_u * c̃ + (1 − Γ_u) * c⟨t−1⟩

    Rows [0, H) of the weights and biases are the u gate, rows [H, 2H) the candidate c.
    The curriculum's W_u[c⟨t−1⟩, x⟨t⟩] + b_u is [W_hu | W_iu] applied to [h; x] with
    b_u = b_iu + b_hu (the same for W_c). No relevance gate. h = c = a here.
    """
    h = _zeros_state(x, weight_hh) if state is None else state
    a_u, a_c = np.split(_affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh), 2, axis=1)
    gate_u, c_tilde = sigmoid(a_u), np.tanh(a_c)
    h_new = gate_u * c_tilde + (1.0 - gate_u) * h
    return h_new, _cache(
        x, h, weight_ih, weight_hh, bias_ih, bias_hh, gate_u=gate_u, c_tilde=c_tilde
    )


def simple_gru_backward(dh_new, cache) -> dict:
    """dc̃ = dh' ⊙ Γ_u, dΓ_u = dh' ⊙ (c̃ − h), dh (direct) = dh' ⊙ (1 − Γ_u); then through
    the nonlinearities (σ', tanh') to dpre = [da_u, da_c] and the affine backward."""
    h, gate_u, c_tilde = cache["h_prev"], cache["gate_u"], cache["c_tilde"]
    d_c_tilde = dh_new * gate_u
    d_gate_u = dh_new * (c_tilde - h)
    dpre = np.concatenate(
        [d_gate_u * gate_u * (1.0 - gate_u), d_c_tilde * (1.0 - c_tilde**2)], axis=1
    )
    grads = _affine_backward(dpre, dpre, cache)
    grads["dh_prev"] = grads["dh_prev"] + dh_new * (1.0 - gate_u)  # the gradient highway
    return grads


# ---- LSTM (PyTorch), with optional peepholes ---------------------------------------------


def _lstm_state(x, state, weight_hh):
    h, c = (None, None) if state is None else state
    h = _zeros_state(x, weight_hh) if h is None else h
    c = _zeros_state(x, weight_hh) if c is None else c
    return h, c


def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch's LSTM cell, gates (i, f, g, o); weights (4H, I), (4H, H); state (h, c)::

        i  = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi)        Γ_u  update (input) gate
        f  = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf)        Γ_f  forget gate
        g  = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)     c̃    candidate
        o  = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho)        Γ_o  output gate
        c' = f ⊙ c + i ⊙ g                             c⟨t⟩ = Γ_u * c̃ + Γ_f * c⟨t−1⟩
        h' = o ⊙ tanh(c')                              a⟨t⟩ = Γ_o * tanh(c⟨t⟩)

    (h is the curriculum's a.) The stacked rows of the weights are [W_i; W_f; W_g; W_o], and
    the curriculum's W_u[a⟨t−1⟩, x⟨t⟩] is [W_hi | W_ii] applied to [h; x].
    Returns ``((h', c'), cache)``.
    """
    h, c = _lstm_state(x, state, weight_hh)
    a_i, a_f, a_g, a_o = np.split(
        _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh), 4, axis=1
    )
    gate_u, gate_f, c_tilde, gate_o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_new = gate_f * c + gate_u * c_tilde
    tanh_c = np.tanh(c_new)
    h_new = gate_o * tanh_c
    cache = _cache(x, h, weight_ih, weight_hh, bias_ih, bias_hh, c_prev=c, c_new=c_new)
    cache.update(gate_u=gate_u, gate_f=gate_f, c_tilde=c_tilde, gate_o=gate_o, tanh_c=tanh_c)
    return (h_new, c_new), cache


def _lstm_weight_grads(d_gates, cache, grads) -> dict:
    """dW = dΓᵀ [a_prev, x] split into torch's two matrices; db = Σ_batch dΓ; da_prev; dx."""
    a_prev, x = cache["h_prev"], cache["x"]
    H = a_prev.shape[1]
    dW = d_gates.T @ np.concatenate([a_prev, x], axis=1)  # (4H, B) @ (B, H + I)
    grads.update(
        dx=d_gates @ cache["weight_ih"],  # (B, 4H) @ (4H, I)
        dh_prev=d_gates @ cache["weight_hh"],  # da_prev
        dweight_hh=dW[:, :H],
        dweight_ih=dW[:, H:],
    )
    db = d_gates.sum(axis=0)  # Σ over the batch; both biases enter the same sum
    if cache["has_bias_ih"]:
        grads["dbias_ih"] = db
    if cache["has_bias_hh"]:
        grads["dbias_hh"] = db.copy()
    return grads


def lstm_backward(dstate_new, cache) -> dict:
    """The classic LSTM backward exercise, in its order (torch's gate names in brackets)::

        dΓ_o = da ⊙ tanh(c')                                 [o]
        dc   = dc_next + da ⊙ Γ_o ⊙ (1 − tanh²(c'))          everything that reaches c'
        dc̃   = dc ⊙ Γ_u                                      [g]
        dΓ_u = dc ⊙ c̃                                        [i]
        dΓ_f = dc ⊙ c_prev                                   [f]
        dΓ   = the four through σ' = Γ(1 − Γ) and tanh' = 1 − c̃², stacked (i, f, g, o)
        dW   = dΓᵀ [a_prev, x]   (= dΓ·[a_prev; x]ᵀ with column vectors; its first H
                                  columns are dweight_hh, the last I are dweight_ih)
        db   = Σ_batch dΓ        (the same for bias_ih and bias_hh)
        da_prev = dΓ W_hh,   dc_prev = dc ⊙ Γ_f,   dx = dΓ W_ih

    ``dstate_new`` = (da, dc_next): the upstream gradients on h' and c' (dc_next may be None).
    Returns "dx", "dh_prev" (= da_prev), "dc_prev", "dweight_ih", "dweight_hh" (+ biases).
    """
    da, dc_next = dstate_new
    gate_u, gate_f, c_tilde, gate_o = (cache[k] for k in ("gate_u", "gate_f", "c_tilde", "gate_o"))
    tanh_c = cache["tanh_c"]
    dc_next = np.zeros_like(tanh_c) if dc_next is None else dc_next

    d_gate_o = da * tanh_c
    dc = dc_next + da * gate_o * (1.0 - tanh_c**2)
    d_c_tilde = dc * gate_u
    d_gate_u = dc * c_tilde
    d_gate_f = dc * cache["c_prev"]
    d_gates = np.concatenate(
        [
            d_gate_u * gate_u * (1.0 - gate_u),  # i
            d_gate_f * gate_f * (1.0 - gate_f),  # f
            d_c_tilde * (1.0 - c_tilde**2),  # g
            d_gate_o * gate_o * (1.0 - gate_o),  # o
        ],
        axis=1,
    )
    return _lstm_weight_grads(d_gates, cache, {"dc_prev": dc * gate_f})


def peephole_lstm_forward(
    x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_ch=None
):
    """The LSTM with peephole connections (curriculum: "the gates also see c⟨t−1⟩")::

        i  = σ(a_i + w_ci ⊙ c)          a_· = x W_·ᵀ + b_i· + h W_h·ᵀ + b_h·, as in the LSTM
        f  = σ(a_f + w_cf ⊙ c)          i and f see the OLD cell state c = c⟨t−1⟩
        g  = tanh(a_g),   c' = f ⊙ c + i ⊙ g
        o  = σ(a_o + w_co ⊙ c')         o sees the NEW cell state c' = c⟨t⟩
        h' = o ⊙ tanh(c')

    ``weight_ch`` (3H,) holds the diagonal peephole weights laid out (w_ci, w_cf, w_co):
    diagonal, so each unit sees only its own cell. None means zeros (then this is exactly
    :func:`lstm_forward`, and the backward still gives dweight_ch). Other shapes as the LSTM.
    """
    h, c = _lstm_state(x, state, weight_hh)
    if weight_ch is None:
        weight_ch = np.zeros(3 * weight_hh.shape[1])
    w_ci, w_cf, w_co = np.split(weight_ch, 3)
    a_i, a_f, a_g, a_o = np.split(
        _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh), 4, axis=1
    )
    gate_u = sigmoid(a_i + w_ci * c)
    gate_f = sigmoid(a_f + w_cf * c)
    c_tilde = np.tanh(a_g)
    c_new = gate_f * c + gate_u * c_tilde
    gate_o = sigmoid(a_o + w_co * c_new)
    tanh_c = np.tanh(c_new)
    h_new = gate_o * tanh_c
    cache = _cache(x, h, weight_ih, weight_hh, bias_ih, bias_hh, c_prev=c, c_new=c_new)
    cache.update(gate_u=gate_u, gate_f=gate_f, c_tilde=c_tilde, gate_o=gate_o, tanh_c=tanh_c)
    cache["weight_ch"] = weight_ch
    return (h_new, c_new), cache


def peephole_lstm_backward(dstate_new, cache) -> dict:
    """:func:`lstm_backward` plus the three peephole paths (da_· = pre-activation gradients)::

        da_o = dΓ_o ⊙ Γ_o(1 − Γ_o);   dc = dc_next + da ⊙ Γ_o ⊙ (1 − tanh²(c')) + da_o ⊙ w_co
        dc̃, dΓ_u, dΓ_f, dΓ, dW, db, da_prev, dx     as in the LSTM
        dc_prev    = dc ⊙ Γ_f + da_i ⊙ w_ci + da_f ⊙ w_cf
        dweight_ch = Σ_batch [da_i ⊙ c_prev, da_f ⊙ c_prev, da_o ⊙ c']

    Returns the LSTM's keys plus "dweight_ch" (3H,).
    """
    da, dc_next = dstate_new
    gate_u, gate_f, c_tilde, gate_o = (cache[k] for k in ("gate_u", "gate_f", "c_tilde", "gate_o"))
    tanh_c, c_prev, c_new = cache["tanh_c"], cache["c_prev"], cache["c_new"]
    w_ci, w_cf, w_co = np.split(cache["weight_ch"], 3)
    dc_next = np.zeros_like(tanh_c) if dc_next is None else dc_next

    d_gate_o = da * tanh_c
    da_o = d_gate_o * gate_o * (1.0 - gate_o)
    dc = dc_next + da * gate_o * (1.0 - tanh_c**2) + da_o * w_co  # o peeked at c'
    d_c_tilde = dc * gate_u
    d_gate_u = dc * c_tilde
    d_gate_f = dc * c_prev
    da_i = d_gate_u * gate_u * (1.0 - gate_u)
    da_f = d_gate_f * gate_f * (1.0 - gate_f)
    da_g = d_c_tilde * (1.0 - c_tilde**2)
    d_gates = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    grads = {
        "dc_prev": dc * gate_f + da_i * w_ci + da_f * w_cf,  # i and f peeked at c_prev
        "dweight_ch": np.concatenate(
            [(da_i * c_prev).sum(axis=0), (da_f * c_prev).sum(axis=0), (da_o * c_new).sum(axis=0)]
        ),
    }
    return _lstm_weight_grads(d_gates, cache, grads)
