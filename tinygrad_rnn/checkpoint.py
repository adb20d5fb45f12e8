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

Arrays are stored in their dtype; ``load`` copies them into the model's parameters'
dtypes, as PyTorch's ``load_state_dict`` does (a float32 model stays float32, never a mix).
Loading never unpickles (``allow_pickle=False``), so a checkpoint cannot run code, and a
file that is not a checkpoint (truncated, a ``.npy``, a foreign archive) gives a
``CheckpointError`` naming it. Random-number state is not saved (nor is it by
``torch.save`` of a state dict): a resumed run with dropout draws different masks unless
you reseed (``tinygrad_rnn.manual_seed``) or pass your own ``rng``.

Why atomic: a crash or a full disk in the middle of ``np.savez`` leaves a truncated file,
and overwriting the last good checkpoint with it loses both. So ``save`` writes through
``tinygrad_rnn.files.atomic_open``: a temporary file in the same directory (unnamed on
Linux, so ``kill -9`` leaves no debris; elsewhere ``.<name>.tmp-<pid>-<random>``, removed
by the next save once its process is gone), flushed and fsynced, then renamed over the
target with ``os.replace`` -- a rename within one file system is atomic: a reader sees the
old file or the new one, never half of one. The file's permissions follow the umask (a
replaced file keeps its mode), a symbolic link is written through (the link stays, its
target is replaced), and a read-only checkpoint is never overwritten (PermissionError).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn.files import atomic_open
from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.optim import Optimizer
from tinygrad_rnn.tensor import Tensor

__all__ = ["CheckpointError", "load", "save"]

PathLike = str | os.PathLike[str]
_NAMESPACES = ("model/", "optim/", "extra/")


def save(path: PathLike, module: Module, optimizer: Optimizer | None = None,
         **extra_arrays: Any) -> Path:
    """Write ``module``'s parameters (and ``optimizer``'s state) to ``path`` atomically.

    Args:
        path: the file to write, exactly as given (use a ``.npz`` suffix by convention).
            Its directory must exist (it is not created). An existing file is replaced only
            once the new one is completely on disk.
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

    # every key contains "/", so none can clash with savez's allow_pickle keyword
    with atomic_open(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return Path(path)


def load(path: PathLike, module: Module, optimizer: Optimizer | None = None
         ) -> dict[str, np.ndarray]:
    """Load a checkpoint written by ``save`` into ``module`` (and ``optimizer``).

    Everything is validated before anything changes: the file (a readable ``.npz`` archive
    with only ``model/``, ``optim/`` and ``extra/`` keys, else ``CheckpointError``), the
    model's keys and shapes (via ``Module.load_state_dict``, which raises KeyError/
    ValueError naming the key and both shapes) and, if an optimizer is given, its state
    (``Optimizer.check_state_dict``). Every error names the file.

    Dtypes, as ``torch.nn.Module.load_state_dict``: the values are copied into each
    parameter's dtype, so a float32 model stays float32 when the file holds float64 (or a
    mix); build the model in the file's dtype (``dtype=np.float64`` or ``.double()``) to
    keep every digit. A value that does not fit the parameter's dtype (1e300 into float32)
    is refused, naming the key and both dtypes. The optimizer's state follows its
    parameters' dtype. Returns the ``extra/`` arrays by name.
    """
    if not isinstance(module, Module):
        raise TypeError(f"checkpoint.load: module must be an nn.Module, got "
                        f"{type(module).__name__}")
    groups = _read(path)
    model_state, optim_state = groups["model/"], groups["optim/"]
    if optimizer is not None:
        if not optim_state:
            raise KeyError(f"checkpoint.load: {str(path)!r} has no optimizer state (it was "
                           f"saved without an optimizer); call load(path, module) instead")
        _with_path(path, optimizer.check_state_dict, optim_state)
    model_state = _in_parameter_dtypes(path, module, model_state)
    _with_path(path, module.load_state_dict, model_state)  # validates, then loads
    if optimizer is not None:
        optimizer.load_state_dict(optim_state)  # already validated: cannot fail half-way
    return groups["extra/"]


class CheckpointError(ValueError):
    """The file is not a readable checkpoint (truncated, corrupt, or another kind of file)."""


def _read(path: PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Every array of the archive, by namespace. The file is opened here (not by np.load)
    so that it is closed whatever goes wrong."""
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"checkpoint.load: {str(path)!r} is not a checkpoint: "
                                  f"{_why(e)}") from e
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(f"checkpoint.load: {str(path)!r} holds a single array "
                                  f"(a .npy file); checkpoints are .npz archives written by "
                                  f"checkpoint.save")
        with archive:
            try:
                stored = {key: archive[key] for key in archive.files}
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise CheckpointError(f"checkpoint.load: {str(path)!r} is damaged (truncated "
                                      f"or corrupt?): {_why(e)}") from e
    groups: dict[str, dict[str, np.ndarray]] = {ns: {} for ns in _NAMESPACES}
    for key, value in stored.items():
        ns = next((n for n in _NAMESPACES if key.startswith(n)), None)
        if ns is None:
            raise CheckpointError(f"checkpoint.load: {str(path)!r} has key {key!r} outside "
                                  f"the namespaces {list(_NAMESPACES)}; is it a tinygrad_rnn "
                                  f"checkpoint (written by checkpoint.save)?")
        groups[ns][key[len(ns):]] = value
    return groups


def _why(e: BaseException) -> str:
    if isinstance(e, EOFError | zipfile.BadZipFile):
        return f"truncated or not a .npz archive ({type(e).__name__}: {e})"
    if "allow_pickle" in str(e):  # NumPy's advice to load it unsafely: not for a checkpoint
        return "not a .npz archive (NumPy could read it only by unpickling, which load never does)"
    return f"{type(e).__name__}: {e}"


def _in_parameter_dtypes(path: PathLike, module: Module, state: dict[str, np.ndarray]
                         ) -> dict[str, np.ndarray]:
    """``state`` with each floating-point array in its parameter's dtype (torch's rule);
    other arrays are left for ``Module.load_state_dict`` to reject."""
    params = dict(module.named_parameters())
    out = {}
    for key, array in state.items():
        p = params.get(key)
        if p is not None and array.dtype.kind == "f" and array.dtype != p.dtype:
            with np.errstate(over="ignore"):
                cast = array.astype(p.dtype)
            if not np.array_equal(np.isfinite(cast), np.isfinite(array)):
                raise ValueError(f"checkpoint.load({str(path)!r}): {key!r} holds {array.dtype} "
                                 f"values too large for the parameter's dtype {p.dtype}; "
                                 f"build the model with dtype={array.dtype} to load it")
            array = cast
        out[key] = array
    return out


def _with_path(path: PathLike, load_fn: Any, state: dict[str, np.ndarray]) -> None:
    """Call ``load_fn(state)``; if it rejects the state, say which file it came from."""
    try:
        load_fn(state)
    except (KeyError, ValueError, TypeError) as e:
        message = e.args[0] if e.args else str(e)
        raise type(e)(f"checkpoint.load({str(path)!r}): {message}") from e
