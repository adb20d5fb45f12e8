"""``tinygrad_rnn.nn.functional``: the same functions as ``tinygrad_rnn.functional``, under
the name PyTorch users import (``import tinygrad_rnn.nn.functional as F``)."""

from tinygrad_rnn.functional import *  # noqa: F403
from tinygrad_rnn.functional import __all__  # noqa: F401
