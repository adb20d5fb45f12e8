"""Write docs/img/walk_rnn.html, the step-through page embedded in docs/visualisation.md.

    PYTHONPATH=. python docs/img/make_walk.py

The same net as the page's examples: an Elman RNN (2 -> 3), T = 3, seed 0, float64.
"""

from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz

rnn = nn.RNN(input_size=2, hidden_size=3, rng=0).double()
x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)))
output, _ = rnn(x)
loss = (output ** 2).sum()
loss.name = "loss"
page = viz.walk(loss, params=rnn, title="Elman RNN, T = 3: the backward walk")
print(page.save(Path(__file__).with_name("walk_rnn.html")))
