"""checkpoint.save/load: round trips, dtypes, validation, and atomic writes under failure."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import checkpoint, nn, optim


def mlp(seed: int, dtype: type = np.float32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4, rng=seed, dtype=dtype), nn.Tanh(),
                         nn.Linear(4, 2, rng=seed + 1, dtype=dtype))


def train_steps(model: nn.Module, opt: optim.Optimizer, steps: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    dtype = model.parameters()[0].dtype
    for _ in range(steps):
        x = tg.Tensor(rng.standard_normal((5, 3)).astype(dtype))
        d = tg.Tensor(rng.standard_normal((5, 2)).astype(dtype))
        loss = ((model(x) - d) ** 2).mean()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()


def assert_same_params(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        np.testing.assert_array_equal(sa[k], sb[k])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_round_trip_keeps_values_and_dtype(tmp_path, dtype):
    src, dst = mlp(0, dtype), mlp(10, dtype)
    path = checkpoint.save(tmp_path / "m.npz", src)
    assert path == tmp_path / "m.npz" and path.exists()
    with np.load(path) as z:  # the layout documented in the module
        assert sorted(z.files) == ["model/0.bias", "model/0.weight", "model/2.bias",
                                   "model/2.weight"]
        assert all(z[k].dtype == dtype for k in z.files)  # stored in the model's dtype
    extra = checkpoint.load(path, dst)
    assert extra == {}
    assert_same_params(src, dst)


def test_load_copies_into_the_parameters_dtype_as_torch_does(tmp_path):
    src = mlp(0, np.float64)
    path = checkpoint.save(tmp_path / "m.npz", src)
    dst = mlp(1, np.float32)
    checkpoint.load(path, dst)
    for (name, p), (_, q) in zip(src.named_parameters(), dst.named_parameters(), strict=True):
        assert q.dtype == np.float32, name  # a float32 model stays float32
        np.testing.assert_array_equal(q.data, p.data.astype(np.float32))
    # a file where one weight alone is float64: the model is never a mix
    state = {f"model/{k}": v for k, v in mlp(2, np.float32).state_dict().items()}
    state["model/2.weight"] = state["model/2.weight"].astype(np.float64) + 1e-12
    np.savez(tmp_path / "mixed.npz", **state)
    checkpoint.load(tmp_path / "mixed.npz", dst)
    assert {p.dtype for p in dst.parameters()} == {np.dtype(np.float32)}
    np.testing.assert_array_equal(dst[2].weight.data,
                                  state["model/2.weight"].astype(np.float32))
    # and a float32 file into a float64 model gives float64 parameters
    wide = mlp(3, np.float64)
    checkpoint.load(tmp_path / "mixed.npz", wide)
    assert {p.dtype for p in wide.parameters()} == {np.dtype(np.float64)}


def test_load_refuses_values_that_do_not_fit_the_parameters_dtype(tmp_path):
    state = {f"model/{k}": v.astype(np.float64) for k, v in mlp(0).state_dict().items()}
    state["model/0.bias"][1] = 1e300  # finite in float64, inf in float32
    np.savez(tmp_path / "big.npz", **state)
    model = mlp(1, np.float32)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"big\.npz.*'0\.bias' holds float64 values too "
                                         r"large for the parameter's dtype float32"):
        checkpoint.load(tmp_path / "big.npz", model)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # nothing was loaded


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=0.01),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resuming_from_a_checkpoint_continues_identically(tmp_path, make, dtype):
    model = mlp(0, dtype)
    opt = make(model.parameters())
    train_steps(model, opt, 3, seed=1)
    checkpoint.save(tmp_path / "c.npz", model, opt, epoch=3, losses=[0.5, 0.25],
                    rng_seed=np.int64(7), scale=tg.Tensor(np.array([2.0])))

    resumed = mlp(5, dtype)
    resumed_opt = make(resumed.parameters())
    extra = checkpoint.load(tmp_path / "c.npz", resumed, resumed_opt)
    assert int(extra["epoch"]) == 3 and extra["losses"].tolist() == [0.5, 0.25]
    assert int(extra["rng_seed"]) == 7 and extra["scale"].tolist() == [2.0]
    assert_same_params(model, resumed)
    for k, v in opt.state_dict().items():
        np.testing.assert_array_equal(resumed_opt.state_dict()[k], v)

    train_steps(model, opt, 3, seed=2)
    train_steps(resumed, resumed_opt, 3, seed=2)
    assert_same_params(model, resumed)  # the same trajectory, bit for bit


def test_overwrite_replaces_the_file_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "m.npz"
    a, b, c = mlp(0), mlp(1), mlp(2)
    checkpoint.save(path, a)
    checkpoint.save(str(path), b)  # a str path works too
    checkpoint.load(path, c)
    assert_same_params(b, c)
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_failure_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old, new = mlp(0), mlp(1)
    checkpoint.save(path, old)
    good_bytes = path.read_bytes()

    def savez_then_crash(file, **arrays):  # writes half an archive, then the disk is "full"
        file.write(b"PK\x03\x04 half of a zip archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", savez_then_crash)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(path, new)
    monkeypatch.undo()

    assert path.read_bytes() == good_bytes
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # the temporary file was removed
    loaded = mlp(2)
    checkpoint.load(path, loaded)
    assert_same_params(old, loaded)


def test_failure_at_rename_or_interrupt_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = mlp(0)
    checkpoint.save(path, old)
    good_bytes = path.read_bytes()

    def replace_fails(src, dst):
        raise KeyboardInterrupt  # Ctrl-C at the worst moment: still cleaned up

    monkeypatch.setattr(checkpoint.os, "replace", replace_fails)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, mlp(1))
    monkeypatch.undo()
    assert path.read_bytes() == good_bytes
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_the_rename_happens_only_after_fsync(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        assert os.path.dirname(src) == os.path.dirname(dst)  # same directory: atomic rename
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "fsync", fsync)
    monkeypatch.setattr(checkpoint.os, "replace", replace)
    checkpoint.save(tmp_path / "m.npz", mlp(0))
    assert events[:2] == ["fsync", "replace"]


def test_load_validates_keys_and_shapes_and_changes_nothing_on_error(tmp_path):
    path = tmp_path / "m.npz"
    checkpoint.save(path, mlp(0))
    other = nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1))
    before = other.state_dict()
    with pytest.raises(ValueError, match=r"m\.npz.*'0\.weight' has shape \(4, 3\).*\(5, 3\)"):
        checkpoint.load(path, other)
    renamed = nn.Sequential(nn.Linear(3, 4, rng=0))
    with pytest.raises(KeyError, match=r"unexpected keys \['2\.weight', '2\.bias'\]"):
        checkpoint.load(path, renamed)
    after = other.state_dict()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_load_checks_the_optimizer_before_touching_the_model(tmp_path):
    path = tmp_path / "m.npz"
    model = mlp(0)
    checkpoint.save(path, model)  # saved without an optimizer
    target = mlp(1)
    before = target.state_dict()
    with pytest.raises(KeyError, match="no optimizer state"):
        checkpoint.load(path, target, optim.Adam(target.parameters()))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_steps(model, opt, 1)
    checkpoint.save(path, model, opt)
    with pytest.raises(KeyError, match=r"m\.npz.*unexpected keys"):  # an SGD state into Adam
        checkpoint.load(path, target, optim.Adam(target.parameters()))
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # the model was not loaded either
    checkpoint.load(path, target)  # without an optimizer, its state is simply not used
    assert_same_params(model, target)


def test_bad_arguments_and_foreign_files(tmp_path):
    model = mlp(0)
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        checkpoint.save(tmp_path / "m.npz", model.state_dict())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer must be"):
        checkpoint.save(tmp_path / "m.npz", model, "adam")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'note' has dtype object"):
        checkpoint.save(tmp_path / "m.npz", model, note={"a": 1})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.save(tmp_path / "missing" / "m.npz", model)
    assert os.listdir(tmp_path) == []
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="outside the namespaces"):
        checkpoint.load(tmp_path / "foreign.npz", model)
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "nothing.npz", model)


def test_written_file_is_a_plain_npz_archive(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", mlp(0).double(), step=np.int32(4))
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as z:
        assert z["model/0.weight"].dtype == np.float64
        assert z["extra/step"].dtype == np.int32


def test_module_docstring_example_runs():
    import doctest

    result = doctest.testmod(checkpoint)
    assert result.attempted > 0 and result.failed == 0


def test_recurrent_layer_round_trip_gives_the_same_outputs(tmp_path):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0, dtype=np.float64)
    opt = optim.Adam(lstm.parameters(), lr=0.01)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    out, (h_n, c_n) = lstm(x)
    (out.sum() + c_n.sum()).backward()
    opt.step()
    checkpoint.save(tmp_path / "lstm.npz", lstm, opt)
    with np.load(tmp_path / "lstm.npz") as z:
        assert "model/weight_hh_l1_reverse" in z.files and "optim/15.exp_avg" in z.files
    other = nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=1, dtype=np.float64)
    checkpoint.load(tmp_path / "lstm.npz", other, optim.Adam(other.parameters()))
    assert_same_params(lstm, other)
    np.testing.assert_array_equal(other(x)[0].data, lstm(x)[0].data)


# -- files on disk: errors that name the file, permissions, links, kills --------------------

def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


@pytest.mark.filterwarnings("error")  # a ResourceWarning for an unclosed file fails the test
@pytest.mark.parametrize("cut", [0, 10, 100, 0.5, -30])
def test_truncated_file_gives_a_clear_error_and_closes_the_file(tmp_path, cut):
    import gc

    path = checkpoint.save(tmp_path / "m.npz", mlp(0))
    data = path.read_bytes()
    end = cut if isinstance(cut, int) and cut >= 0 else (
        int(len(data) * cut) if isinstance(cut, float) else len(data) + cut)
    path.write_bytes(data[:end])
    before = _open_fds()
    with pytest.raises(checkpoint.CheckpointError, match=r"m\.npz.*(truncated|damaged)"):
        checkpoint.load(path, mlp(1))
    gc.collect()
    assert _open_fds() <= before  # the file was closed


@pytest.mark.filterwarnings("error")
def test_corrupt_member_gives_a_clear_error(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", mlp(0))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model/0.weight.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size - 8] ^= 0xFF  # flip bits in the weight's last bytes
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError, match=r"m\.npz.* damaged"):
        checkpoint.load(path, mlp(1))


def test_npy_and_other_files_are_named_in_the_error(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((4, 3)))
    with pytest.raises(checkpoint.CheckpointError, match=r"w\.npy.*single array.*\.npz"):
        checkpoint.load(tmp_path / "w.npy", mlp(0))
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    with pytest.raises(checkpoint.CheckpointError, match=r"notes\.txt.* is not a checkpoint"):
        checkpoint.load(tmp_path / "notes.txt", mlp(0))


def test_load_rejects_a_negative_adam_step_naming_the_file(tmp_path):
    model = mlp(0)
    opt = optim.Adam(model.parameters())
    train_steps(model, opt, 1)
    state = {f"model/{k}": v for k, v in model.state_dict().items()}
    state.update({f"optim/{k}": v for k, v in opt.state_dict().items()})
    state["optim/0.step"] = np.array(-5)
    np.savez(tmp_path / "bad.npz", **state)
    target = mlp(1)
    with pytest.raises(ValueError, match=r"bad\.npz.*step"):
        checkpoint.load(tmp_path / "bad.npz", target, optim.Adam(target.parameters()))


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_checkpoint_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = checkpoint.save(tmp_path / "m.npz", mlp(0))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_replaced_checkpoint_keeps_its_mode(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", mlp(0))
    path.chmod(0o600)
    checkpoint.save(path, mlp(1))
    assert path.stat().st_mode & 0o777 == 0o600


def test_save_onto_a_symlink_writes_through_it(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "runs").mkdir()
    real = checkpoint.save(tmp_path / "store" / "best.npz", mlp(0))
    link = tmp_path / "runs" / "latest.npz"
    link.symlink_to(real)
    new = mlp(1)
    checkpoint.save(link, new)
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link stays a link
    loaded = mlp(2)
    checkpoint.load(real, loaded)  # its target holds the new weights
    assert_same_params(new, loaded)
    assert os.listdir(tmp_path / "store") == ["best.npz"]
    assert os.listdir(tmp_path / "runs") == ["latest.npz"]


def test_a_read_only_checkpoint_is_not_overwritten(tmp_path):
    path = checkpoint.save(tmp_path / "m.npz", mlp(0))
    good = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"m\.npz' is read-only.*chmod u\+w"):
        checkpoint.save(path, mlp(1))
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_into_a_path_below_a_regular_file_says_so(tmp_path):
    (tmp_path / "runs").write_text("a file, not a folder")
    with pytest.raises(NotADirectoryError, match=r"runs' is a file, not a directory"):
        checkpoint.save(tmp_path / "runs" / "m.npz", mlp(0))


_SAVE_FOREVER = """
import os, sys
import numpy as np
if sys.argv[2] == "named":  # the fallback where O_TMPFILE is missing: named temporaries
    del os.O_TMPFILE
from tinygrad_rnn import checkpoint, nn
model = nn.Linear(1000, 1000, bias=False, dtype=np.float64)  # 8 MB: a write takes a while
i = 0
while True:
    i += 1
    model.weight.data[...] = i
    checkpoint.save(sys.argv[1], model, step=i)
    if i == 1:
        print("saving", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
# (the O_TMPFILE route exists only where the system has it, Linux)
@pytest.mark.parametrize("mode", ["named", *(["tmpfile"] if hasattr(os, "O_TMPFILE") else [])])
def test_kill_9_during_save_keeps_the_old_file_and_leaves_no_debris(tmp_path, mode):
    import random
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "big.npz"
    model = nn.Linear(1000, 1000, bias=False, dtype=np.float64)
    rng = random.Random(0)
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", _SAVE_FOREVER, str(path), mode],
                                 stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"saving\n"
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere in a save, or between two
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        step = int(checkpoint.load(path, model)["step"])  # the last complete file
        assert step >= 1 and np.all(model.weight.data == step)
    checkpoint.save(path, model)  # the next save removes what the killed ones left
    assert os.listdir(tmp_path) == ["big.npz"]
