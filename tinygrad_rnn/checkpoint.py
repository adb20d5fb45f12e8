"""Save and load a model (and its optimizer) as one ``.npz`` file, written atomically.

    >>> import os, tempfile
    >>> import numpy as np
    >>> import tinygrad_rnn as tg
    >>> from tinygrad_rnn import checkpoint, nn, optim
    >>> model = nn.Linear(3, 1, rng=0)
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> x, d = tg.ones(4, 3), tg.zeros(4, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> for epoch in range(2):
    ...     loss = ((model(x) - d) ** 2).mean()                 # forward
    ...     loss.backward()                                      # backward
    ...     _ = optim.clip_grad_norm_(model.parameters(), 5.0)   # clip
    ...     opt.step()                                           # update
    ...     opt.zero_grad()
    ...     _ = checkpoint.save(path, model, opt, epoch=epoch)   # after every epoch
    >>> extra = checkpoint.load(path, model, opt)                # resume later
    >>> int(extra["epoch"])
    1

File layout: one NumPy ``.npz`` archive whose keys are namespaced::

    model/<parameter name>   e.g. model/weight, model/weight_ih_l0   (Module.state_dict())
    optim/<key>              e.g. optim/lr, optim/0.exp_avg          (Optimizer.state_dict())
    extra/<name>             the keyword arrays given to save (epoch, rng state, losses, ...)

Arrays keep their dtype (a float64 model comes back float64). Loading never unpickles
(``allow_pickle=False``), so a checkpoint cannot run code. Random-number state is not
saved (nor is it by ``torch.save`` of a state dict): a resumed run with dropout draws
different masks unless you reseed (``tinygrad_rnn.manual_seed``) or pass your own ``rng``.

Why atomic: a crash or a full disk in the middle of ``np.savez`` leaves a truncated file,
and overwriting the last good checkpoint with it loses both. So ``save`` writes to a
temporary file in the same directory, flushes and fsyncs it, and only then renames it over
the target with ``os.replace`` -- a rename within one file system is atomic: a reader sees
the old file or the new one, never half of one. On any error the temporary file is removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.optim import Optimizer
from tinygrad_rnn.tensor import Tensor

__all__ = ["load", "save"]

PathLike = str | os.PathLike[str]
_NAMESPACES = ("model/", "optim/", "extra/")


def save(path: PathLike, module: Module, optimizer: Optimizer | None = None,
         **extra_arrays: Any) -> Path:
    """Write ``module``'s parameters (and ``optimizer``'s state) to ``path`` atomically.

    Args:
        path: the file to write, exactly as given (use a ``.npz`` suffix by convention).
            Its directory must exist. An existing file is replaced only once the new one is
            completely on disk.
        module: the model; its ``state_dict()`` is stored under ``model/``.
        optimizer: optional; its ``state_dict()`` is stored under ``optim/``.
        **extra_arrays: anything NumPy turns into a non-object array (numbers, lists,
            arrays, tensors), stored under ``extra/<name>`` and returned by ``load``.

    Returns the path written.
    """
    if not isinstance(module, Module):
        raise TypeError(f"checkpoint.save: module must be an nn.Module, got "
                        f"{type(module).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"checkpoint.save: optimizer must be an optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}")
    arrays = {f"model/{k}": v for k, v in module.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
    for name, value in extra_arrays.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype == object:
            raise TypeError(f"checkpoint.save: extra array {name!r} has dtype object (a "
                            f"{type(value).__name__}); store numbers or numeric arrays only")
        arrays[f"extra/{name}"] = array

    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"checkpoint.save: directory {str(target.parent)!r} does not "
                                f"exist; create it first")
    # The temporary file lives next to the target: os.replace is only atomic within one
    # file system, and a hidden name keeps it out of the way if the process is killed.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                    dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # every key contains "/", so none can clash with savez's allow_pickle keyword
            np.savez(f, **arrays)  # type: ignore[arg-type]
            f.flush()  # Python's buffer -> the OS
            os.fsync(f.fileno())  # the OS cache -> the disk, before the rename makes it live
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(target.parent)
    return target


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: PathLike, module: Module, optimizer: Optimizer | None = None
         ) -> dict[str, np.ndarray]:
    """Load a checkpoint written by ``save`` into ``module`` (and ``optimizer``).

    Everything is validated before anything changes: the model's keys and shapes (via
    ``Module.load_state_dict``, which raises KeyError/ValueError naming the key and both
    shapes) and, if an optimizer is given, its state (``Optimizer.check_state_dict``).
    Parameters take the stored dtype. Returns the ``extra/`` arrays by name.
    """
    if not isinstance(module, Module):
        raise TypeError(f"checkpoint.load: module must be an nn.Module, got "
                        f"{type(module).__name__}")
    with np.load(path, allow_pickle=False) as archive:
        stored = {key: archive[key] for key in archive.files}
    groups: dict[str, dict[str, np.ndarray]] = {ns: {} for ns in _NAMESPACES}
    for key, value in stored.items():
        ns = next((n for n in _NAMESPACES if key.startswith(n)), None)
        if ns is None:
            raise ValueError(f"checkpoint.load: {str(path)!r} has key {key!r} outside the "
                             f"namespaces {list(_NAMESPACES)}; is it a tinygrad_rnn checkpoint "
                             f"(written by checkpoint.save)?")
        groups[ns][key[len(ns):]] = value
    model_state, optim_state = groups["model/"], groups["optim/"]
    if optimizer is not None:
        if not optim_state:
            raise KeyError(f"checkpoint.load: {str(path)!r} has no optimizer state (it was "
                           f"saved without an optimizer); call load(path, module) instead")
        _with_path(path, optimizer.check_state_dict, optim_state)
    _with_path(path, module.load_state_dict, model_state)  # validates, then loads
    if optimizer is not None:
        optimizer.load_state_dict(optim_state)  # already validated: cannot fail half-way
    return groups["extra/"]


def _with_path(path: PathLike, load_fn: Any, state: dict[str, np.ndarray]) -> None:
    """Call ``load_fn(state)``; if it rejects the state, say which file it came from."""
    try:
        load_fn(state)
    except (KeyError, ValueError, TypeError) as e:
        message = e.args[0] if e.args else str(e)
        raise type(e)(f"checkpoint.load({str(path)!r}): {message}") from e
