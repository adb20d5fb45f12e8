"""One BLAS thread for the example scripts, unless you ask for more.

Imported by every example before NumPy (a BLAS library reads its thread count when it
loads). The examples multiply small matrices -- a batch of 32 by a hidden size of 24 to 48
-- where a second BLAS thread has little to share, and on a busy machine it waits for a free
core instead: on a shared 2-core machine ``04_char_lm.py --quick`` trained 6x slower with
OpenBLAS's default of two threads (23 s against 6.5 s, measured one after the other).

To choose yourself, set the variable: ``OPENBLAS_NUM_THREADS=2 python examples/04_char_lm.py``.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # an explicit setting wins
