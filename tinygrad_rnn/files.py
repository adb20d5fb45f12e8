"""Atomic outputs: a reader never sees a half-written file, nor half of a set of files.

Every file the package writes (checkpoints, pictures, plots, reports) goes through
``atomic_open`` / ``atomic_write``:

1. ``writable_target`` checks the path first and names the true problem: a path component
   that is a regular file (``NotADirectoryError``), a missing directory
   (``FileNotFoundError``: directories are never created silently), no permission to create
   files there, a read-only file in the way (``PermissionError``: it is not replaced, not
   even by root -- make it writable or write elsewhere), a directory in the way.
2. The data goes to a temporary file in the target's directory (``os.replace`` is atomic
   only within one file system), is flushed and fsynced, then renamed over the target in
   one step. On any error, Ctrl-C included, the temporary file is removed and the old
   target is untouched.

Details that matter when things go wrong:

* **No debris after ``kill -9``.** On Linux the temporary file is opened with
  ``O_TMPFILE``: it has no name while it is written, so a killed process leaves nothing
  behind. It gets a name (linked in) only for the final rename, a window of microseconds.
  Where ``O_TMPFILE`` is not available it is named ``.<target>.tmp-<pid>-<random>`` from
  the start. Either way the next write of the same target removes such files whose
  process is no longer running (a live process's temporary file is never touched).
* **Permissions follow the umask** for a new file (0644 under the usual umask 022), and a
  replaced file keeps its mode, as ``open(path, "w")`` would.
* **Symbolic links are written through**: the link stays a link and its target is replaced
  (atomically, in the target's directory).

``atomic_folder`` does the same for a set of files in one folder (the demo's outputs):
they appear together or not at all, and other files in the folder are never touched.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_folder", "atomic_open", "atomic_write", "writable_folder",
           "writable_target"]

PathLike = str | os.PathLike[str]
_TMP = ".tmp-"  # temporary names: .<target name>.tmp-<pid>-<random hex>


def writable_target(path: PathLike) -> Path:
    """The file a write to ``path`` would replace (symlinks followed), after checking that
    it can be written; raises ``OSError`` subclasses whose message gives the true reason
    and what to do. Nothing is created."""
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a directory; give a file "
                                f"name")
    _check_directory(path, real.parent)
    if real.exists() and _read_only(real):
        raise PermissionError(f"{str(path)!r} is read-only; refusing to replace it (make it "
                              f"writable, e.g. chmod u+w, or write to another path)")
    return real


def writable_folder(path: PathLike) -> Path:
    """The folder ``path`` (symlinks followed), checked like ``writable_target``: it must be
    a writable folder, or missing with a writable parent folder (it is then created by
    ``atomic_folder``, never its parents)."""
    real = Path(os.path.realpath(path))
    if os.path.lexists(real):
        if not real.is_dir():
            raise NotADirectoryError(f"cannot write into {str(path)!r}: it is a file, not a "
                                     f"folder; choose another output folder")
        _check_directory(path, real)
    else:
        _check_directory(path, real.parent)
    return real


def _check_directory(path: PathLike, directory: Path) -> None:
    """``directory`` must exist, be a directory, and allow creating files in it."""
    probe = directory
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(probe)!r} is a file, not "
                                 f"a directory")
    if probe != directory:
        raise FileNotFoundError(f"cannot write {str(path)!r}: the directory "
                                f"{str(directory)!r} does not exist; create it first "
                                f"(mkdir -p {directory})")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {str(path)!r}: permission denied to create "
                              f"files in the directory {str(directory)!r}")


def _read_only(path: Path) -> bool:
    mode = path.stat().st_mode
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP |
                                                        stat.S_IWOTH)


def atomic_write(path: PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically; returns ``path``
    (a symbolic link is written through: its target is replaced)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_open(path) as f:
        f.write(payload)
    return Path(path)


@contextmanager
def atomic_open(path: PathLike) -> Iterator[BinaryIO]:
    """``with atomic_open(path) as f: f.write(...)``: a binary file that replaces ``path``
    when the block ends without an error, and vanishes if it raises."""
    target = writable_target(path)
    _remove_stale(target.parent, target.name)
    fd, tmp = _open_temporary(target)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f  # type: ignore[misc]
            f.flush()  # Python's buffer -> the OS
            os.fsync(f.fileno())  # the OS cache -> the disk, before the rename makes it live
            if target.exists() and hasattr(os, "fchmod"):  # keep a replaced file's mode
                os.fchmod(f.fileno(), stat.S_IMODE(target.stat().st_mode))
            if tmp is None:
                tmp = _link_anonymous(f.fileno(), target)
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            _unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _temporary_name(directory: Path, name: str) -> Path:
    # the name is cut so that the whole stays within the usual 255-byte limit
    return directory / f".{name[:200]}{_TMP}{os.getpid()}-{secrets.token_hex(4)}"


def _open_temporary(target: Path) -> tuple[int, Path | None]:
    """An fd for the new contents, and its name (None: it has none yet, O_TMPFILE)."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):  # both needed to link it
        try:  # 0o666: the umask decides the final mode, as for any new file
            return os.open(target.parent, os.O_TMPFILE | os.O_WRONLY, 0o666), None
        except OSError:  # a file system without O_TMPFILE: use a named file
            pass
    tmp = _temporary_name(target.parent, target.name)
    return os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0),
                   0o666), tmp


def _link_anonymous(fd: int, target: Path) -> Path:
    """Give the O_TMPFILE file a name next to the target, for the final rename."""
    tmp = _temporary_name(target.parent, target.name)
    # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N names the open file itself; os.link
    # calls linkat (rather than link, which would link the /proc symlink) only when given
    # a dir_fd, hence the directory's fd
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=directory, follow_symlinks=True)
    finally:
        os.close(directory)
    return tmp


def _remove_stale(directory: Path, name: str) -> list[Path]:
    """Remove the temporary files and folders for ``name`` in ``directory`` whose process
    has ended (left by a killed process); returns what was removed."""
    pattern = re.compile(re.escape(f".{name[:200]}{_TMP}") + r"(\d+)-[0-9a-f]+")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None or _process_alive(int(m.group(1))):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            _unlink(Path(entry.path))
        removed.append(Path(entry.path))
    return removed


def _process_alive(pid: int) -> bool:
    """True unless process ``pid`` certainly does not exist (when unsure: alive)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    return True


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory: Path) -> None:
    """Persist a rename itself (POSIX); a no-op where directories cannot be opened."""
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


# -- a set of files in one folder -----------------------------------------------------------

_SET = "tinygrad_rnn-outputs"  # staging folders inside the output folder: .<_SET>.tmp-...
_READY = ".ready"  # marks a complete staging folder whose files are being moved into place
_MANIFEST = ".names"  # in a complete staging folder: the names of the new set, one a line


@contextmanager
def atomic_folder(folder: PathLike, names: Iterable[str]) -> Iterator[Path]:
    """``with atomic_folder(out, names) as staging:`` write the files ``names`` (some may be
    left out) into ``staging``; when the block ends without an error they replace the
    files of those names in ``out`` as one set: a file of the set that was not written this
    time is removed from ``out``, so old and new outputs never mix. Other files in ``out``
    are never touched. If the block raises (Ctrl-C included), ``out`` is unchanged.

    * A missing ``out`` (its parent must exist) is built as a hidden sibling folder and
      renamed into place in one step.
    * An existing ``out`` gets a hidden staging folder inside it; once the block is done,
      the staging folder is marked complete (an atomic rename), then its files are moved
      into place one by one (a few renames) with Ctrl-C held off until they are all
      done. A ``kill -9`` or power cut during those microseconds leaves the complete set
      in the marked folder: the next ``atomic_folder`` on ``out`` finishes the moves.
      A kill earlier leaves the old set and an unmarked staging folder, removed then.
    """
    names = set(names)
    out = writable_folder(folder)
    if out.exists():
        _recover(out, names)
        staging = _temporary_name(out, _SET)
    else:
        _remove_stale(out.parent, out.name)
        staging = _temporary_name(out.parent, out.name)
    os.mkdir(staging)
    moving = False  # once the set is complete, a failure leaves it for the next run to move
    try:
        yield staging
        written = sorted(p.name for p in staging.iterdir())
        stray = [name for name in written if name not in names]
        if stray:
            raise ValueError(f"atomic_folder: {stray} are not among the outputs {sorted(names)}")
        with _sigint_held():
            if out.exists():
                # which files make the new set, so that a killed move can be finished
                atomic_write(staging / _MANIFEST, "".join(f"{name}\n" for name in written))
                ready = staging.with_name(staging.name + _READY)
                os.rename(staging, ready)
                moving = True
                _move_into_place(ready, out, names)
            else:
                os.rename(staging, out)
            _fsync_directory(out.parent)
    except BaseException:
        if not moving:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def _move_into_place(ready: Path, out: Path, names: set[str]) -> None:
    """Move the files of a complete staging folder over ``out``'s, remove the outputs that
    are not part of the new set, then remove the staging folder. Safe to run again on what
    a killed run left: a file of the set already moved is simply no longer in ``ready``."""
    try:
        new_set = set((ready / _MANIFEST).read_text(encoding="utf-8").splitlines())
    except OSError:  # no manifest: not complete after all
        new_set = None
    if new_set is not None:
        for name in sorted(names):
            if name in new_set:
                if (ready / name).exists():
                    os.replace(ready / name, out / name)
            elif (out / name).is_file() or (out / name).is_symlink():
                os.unlink(out / name)  # an old output with no new counterpart would mix sets
        _fsync_directory(out)
    shutil.rmtree(ready, ignore_errors=True)


def _recover(out: Path, names: set[str]) -> None:
    """Finish what a killed ``atomic_folder`` left in ``out``: complete sets are moved into
    place, incomplete ones removed."""
    pattern = re.compile(re.escape(f".{_SET}{_TMP}") + r"(\d+)-[0-9a-f]+(" + re.escape(_READY)
                         + ")?")
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        m = pattern.fullmatch(entry.name)
        if m is None or not entry.is_dir(follow_symlinks=False) \
                or _process_alive(int(m.group(1))):
            continue
        if m.group(2):
            _move_into_place(Path(entry.path), out, names)
        else:
            shutil.rmtree(entry.path, ignore_errors=True)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold off Ctrl-C: a SIGINT that comes during the block is raised (as the previous
    handler would, normally KeyboardInterrupt) right after it. Python delivers SIGINT to
    the main thread only, so elsewhere there is nothing to hold off. (Blocking the signal
    with pthread_sigmask would not do: the kernel hands it to another thread, e.g. tqdm's.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt
