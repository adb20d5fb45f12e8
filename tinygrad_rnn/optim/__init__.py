"""Optimizers, learning-rate schedulers and gradient clipping (``torch.optim``'s names).

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

The updates follow ``torch.optim`` equation for equation (tested against it). The clipping
functions live in ``nn.utils`` as in torch; they are re-exported here.
"""

from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_rnn.optim import lr_scheduler
from tinygrad_rnn.optim.adagrad import Adagrad
from tinygrad_rnn.optim.adam import Adam, AdamW
from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.optim.rmsprop import RMSprop
from tinygrad_rnn.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm_",
           "clip_grad_value_", "lr_scheduler"]
