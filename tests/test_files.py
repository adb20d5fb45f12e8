"""tinygrad_rnn.files: atomic writes of one file and of a set of files in a folder."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from tinygrad_rnn import files


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    pid = os.fork()
    if pid == 0:  # the child ends at once
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "out.txt"
    assert files.atomic_write(path, "first\n") == path
    files.atomic_write(str(path), b"second\n")
    assert path.read_bytes() == b"second\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_an_error_inside_atomic_open_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with files.atomic_open(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("where, error, message", [
    ("file/out.txt", NotADirectoryError, r"'.*file' is a file, not a directory"),
    ("file/deeper/out.txt", NotADirectoryError, r"'.*file' is a file, not a directory"),
    ("missing/out.txt", FileNotFoundError,
     r"the directory '.*missing' does not exist; create it first \(mkdir -p"),
    ("folder", IsADirectoryError, r"it is a directory; give a file name"),
])
def test_unwritable_paths_give_the_true_reason_and_create_nothing(tmp_path, where, error,
                                                                   message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(error, match=message):
        files.atomic_write(tmp_path / where, "data")
    assert sorted(os.listdir(tmp_path)) == ["file", "folder"]
    assert os.listdir(tmp_path / "folder") == []


def test_a_directory_without_write_permission_is_named(tmp_path, monkeypatch):
    real_access = os.access

    def access(path, mode, **kwargs):  # as for a non-root user in a read-only directory
        if os.fspath(path) == str(tmp_path):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(PermissionError, match=r"permission denied to create files in the "
                                              r"directory '.*'"):
        files.atomic_write(tmp_path / "out.txt", "data")


def _refused_in_read_only_directory(folder) -> str:
    """Try to write into the read-only ``folder``: "refused" (our PermissionError), or
    what happened instead."""
    try:
        files.atomic_write(folder / "out.txt", "data")
    except PermissionError as e:
        return "refused" if "permission denied" in str(e) else f"other message: {e}"
    return "written" if (folder / "out.txt").exists() else "no error"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_directory_really_is_refused():
    """A real read-only directory (no monkeypatching). Root may write anywhere, so as root
    the attempt runs in a forked child that has become the user nobody."""
    top = Path(tempfile.mkdtemp())
    top.chmod(0o755)  # nobody may look inside, not write
    locked = top / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.geteuid() != 0:
            outcome = _refused_in_read_only_directory(locked)
        else:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: drop to nobody, try, report, and leave at once
                os.close(read)
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    text = _refused_in_read_only_directory(locked)
                except BaseException as e:  # noqa: BLE001 (reported to the parent)
                    text = f"child failed: {e!r}"
                os.write(write, text.encode())
                os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as f:
                outcome = f.read().decode()
            os.waitpid(pid, 0)
        assert outcome == "refused"
        assert not (locked / "out.txt").exists()
    finally:
        locked.chmod(0o755)
        shutil.rmtree(top)


def test_read_only_files_are_not_replaced(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("precious")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"keep\.txt' is read-only; refusing"):
        files.atomic_write(path, "new")
    assert path.read_text() == "precious"


def test_new_files_follow_the_umask_and_replaced_ones_keep_their_mode(tmp_path):
    old = os.umask(0o077)
    try:
        files.atomic_write(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o600
    kept = tmp_path / "kept.txt"
    kept.write_text("x")
    kept.chmod(0o640)
    files.atomic_write(kept, "y")
    assert kept.stat().st_mode & 0o777 == 0o640


def test_writing_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "target.txt")
    files.atomic_write(link, "through")
    assert link.is_symlink() and (tmp_path / "target.txt").read_text() == "through"


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    stale = tmp_path / f".out.txt.tmp-{dead_pid()}-0badcafe"
    live = tmp_path / f".out.txt.tmp-{os.getppid()}-0badcafe"  # our parent is alive
    other = tmp_path / f".other.txt.tmp-{dead_pid()}-0badcafe"  # another target's
    for p in (stale, live, other):
        p.write_text("debris")
    files.atomic_write(tmp_path / "out.txt", "x")
    assert sorted(os.listdir(tmp_path)) == sorted(["out.txt", live.name, other.name])


# -- atomic_folder ---------------------------------------------------------------------------

NAMES = ("a.txt", "b.txt", "c.txt")


def old_set(out, with_c=True):
    out.mkdir()
    for name in NAMES if with_c else NAMES[:2]:
        (out / name).write_text(f"old {name}")
    (out / "notes.txt").write_text("mine")  # not an output: never touched


def contents(out):
    return {p.name: p.read_text() for p in out.iterdir()}


def test_atomic_folder_replaces_the_set_and_keeps_other_files(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    with files.atomic_folder(out, NAMES) as staging:
        assert staging.parent == out and staging.name.startswith(".")
        (staging / "a.txt").write_text("new a")
        (staging / "b.txt").write_text("new b")
        assert (out / "a.txt").read_text() == "old a.txt"  # nothing visible before the end
    # c.txt was not written this time: the old one goes, so the set is not mixed
    assert contents(out) == {"a.txt": "new a", "b.txt": "new b", "notes.txt": "mine"}


def test_atomic_folder_creates_a_missing_folder_in_one_step(tmp_path):
    out = tmp_path / "new"
    with files.atomic_folder(out, NAMES) as staging:
        (staging / "a.txt").write_text("a")
        assert not out.exists()
    assert contents(out) == {"a.txt": "a"}
    assert sorted(os.listdir(tmp_path)) == ["new"]
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        with files.atomic_folder(tmp_path / "no" / "such", NAMES):
            pass


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_atomic_folder_keeps_the_old_set_when_the_block_fails(tmp_path, error):
    out = tmp_path / "out"
    old_set(out)
    before = contents(out)
    with pytest.raises(error):
        with files.atomic_folder(out, NAMES) as staging:
            (staging / "a.txt").write_text("new a")
            raise error
    assert contents(out) == before
    assert sorted(os.listdir(out)) == sorted(before)  # the staging folder is gone


def test_atomic_folder_refuses_files_outside_the_set(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    before = contents(out)
    with pytest.raises(ValueError, match=r"\['z.txt'\] are not among the outputs"):
        with files.atomic_folder(out, NAMES) as staging:
            (staging / "z.txt").write_text("?")
    assert contents(out) == before


@pytest.mark.skipif(os.name != "posix", reason="os.kill with SIGINT")
def test_ctrl_c_during_the_moves_waits_until_the_set_is_complete(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old_set(out)
    real_replace = os.replace
    calls = []

    def replace_then_ctrl_c(src, dst):
        real_replace(src, dst)
        if os.path.dirname(dst) == str(out):  # an output moved into place
            calls.append(dst)
            if len(calls) == 1:  # Ctrl-C right after the first one
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_folder(out, NAMES) as staging:
            for name in NAMES:
                (staging / name).write_text(f"new {name}")
    assert len(calls) == 3  # the interrupt came only after every move
    assert contents(out) == {**{n: f"new {n}" for n in NAMES}, "notes.txt": "mine"}


def test_a_set_left_complete_by_a_killed_process_is_finished_by_the_next_one(tmp_path):
    out = tmp_path / "out"
    old_set(out)
    pid = dead_pid()
    ready = out / f".tinygrad_rnn-outputs.tmp-{pid}-12345678.ready"  # killed mid-move:
    ready.mkdir()                                                     # a.txt already moved
    (out / "a.txt").write_text("killed a")
    (ready / "b.txt").write_text("killed b")  # c.txt was not part of the killed set
    (ready / ".names").write_text("a.txt\nb.txt\n")
    unfinished = out / f".tinygrad_rnn-outputs.tmp-{pid}-87654321"  # killed while writing
    unfinished.mkdir()
    (unfinished / "a.txt").write_text("half")
    with files.atomic_folder(out, NAMES) as staging:
        # before any new work, the killed set was completed and the half one removed
        assert set(os.listdir(out)) == {"a.txt", "b.txt", "notes.txt", staging.name}
        assert [(out / n).read_text() for n in ("a.txt", "b.txt")] == ["killed a", "killed b"]
        (staging / "c.txt").write_text("new c")
    assert contents(out) == {"c.txt": "new c", "notes.txt": "mine"}


def test_a_killed_first_run_leaves_a_hidden_sibling_removed_by_the_next(tmp_path):
    stale = tmp_path / f".out.tmp-{dead_pid()}-abcdef01"
    stale.mkdir()
    (stale / "a.txt").write_text("half")
    with files.atomic_folder(tmp_path / "out", NAMES) as staging:
        (staging / "a.txt").write_text("a")
    assert sorted(os.listdir(tmp_path)) == ["out"]
