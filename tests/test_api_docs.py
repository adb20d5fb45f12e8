"""docs/api.md documents every public name.

The public API is walked, not listed here: ``tinygrad_rnn.__all__``, the public modules below
and every module found in a public ``__all__`` (so ``tg.nn.functional`` counts once it
exists), each module's ``__all__`` (or, without one, the functions and classes it defines),
and the public attributes of the classes a user holds all day (``Tensor``, ``nn.Module``,
``optim.Optimizer``). A name is documented when the built API page has an entry for it
(mkdocstrings gives each rendered object the id ``module.Name``), or, for what mkdocstrings
cannot render (a slot such as ``Tensor.grad``), when docs/api.md names it in backticks.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from pathlib import Path

import built_site
import pytest

ROOT = Path(__file__).resolve().parent.parent

PUBLIC_MODULES = (
    "tinygrad_rnn", "tinygrad_rnn.nn", "tinygrad_rnn.optim", "tinygrad_rnn.functional",
    "tinygrad_rnn.viz", "tinygrad_rnn.bptt", "tinygrad_rnn.bptt.analysis",
    "tinygrad_rnn.bptt.reference", "tinygrad_rnn.checkpoint", "tinygrad_rnn.truncated",
    "tinygrad_rnn.tasks", "tinygrad_rnn.anomaly", "tinygrad_rnn.plots", "tinygrad_rnn.testing",
    "tinygrad_rnn.fast", "tinygrad_rnn.gradcheck", "tinygrad_rnn.files",
)
CLASSES = ("tinygrad_rnn.tensor.Tensor", "tinygrad_rnn.nn.module.Module",
           "tinygrad_rnn.optim.Optimizer")
NOT_API = {"__version__", "annotations"}  # a string and a __future__ import


def _public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                 and obj.__module__ == module.__name__]
    return [n for n in names if n not in NOT_API]


def public_api() -> dict[str, list[str]]:
    """{"tinygrad_rnn.nn": ["GRU", ...], "tinygrad_rnn.tensor.Tensor": ["T", ...], ...}."""
    api: dict[str, list[str]] = {}
    todo = list(PUBLIC_MODULES)
    while todo:
        name = todo.pop()
        if name in api:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as e:  # an optional dependency (matplotlib, hypothesis) missing
            if e.name and e.name.split(".")[0] == "tinygrad_rnn":
                raise
            continue
        api[name] = _public_names(module)
        for attr in api[name]:
            obj = getattr(module, attr, None)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("tinygrad_rnn"):
                todo.append(obj.__name__)
    for path in CLASSES:
        module_name, _, cls_name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError):
            continue
        api[path] = sorted(n for n in dir(cls) if not n.startswith("_"))
    return api


def _documented_ids() -> set[str]:
    html = (built_site.site() / "api" / "index.html").read_text(encoding="utf-8")
    return set(re.findall(r'id="(tinygrad_rnn\.[\w.]+)"', html))


def undocumented(api: dict[str, list[str]], ids: set[str], page: str) -> list[str]:
    """The public names with no entry in the built page and no backticked mention in it."""
    # `cat`, `tg.cat`, `Tensor.grad`, `x.grad`: a backticked name, alone or after a dot
    mentioned = set()
    for token in re.findall(r"`([^`\s]+)`", page):
        parts = token.split(".")
        mentioned.update(".".join(parts[k:]) for k in range(len(parts)))
    missing = []
    for owner, names in api.items():
        cls = owner.rsplit(".", 1)[-1] if owner in CLASSES else None
        for name in names:
            if cls is not None:
                if any(i.endswith(f".{cls}.{name}") for i in ids) or f"{cls}.{name}" in mentioned:
                    continue
            elif name in mentioned or _rendered(owner, name, ids):
                continue
            missing.append(f"{owner}.{name}")
    return sorted(missing)


def _rendered(owner: str, name: str, ids: set[str]) -> bool:
    """Has the object ``owner.name`` an entry of its own, under the name it is imported by
    (``tinygrad_rnn.bptt.reference.elman_bptt``) or the module that defines it (``tg.zeros``
    is rendered as ``tinygrad_rnn.creation.zeros``)? A module counts when its members are
    rendered."""
    if f"{owner}.{name}" in ids:
        return True
    try:
        obj = getattr(importlib.import_module(owner), name)
    except (ImportError, AttributeError):
        return False
    if isinstance(obj, types.ModuleType):
        return any(i.startswith(obj.__name__ + ".") for i in ids)
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return module is not None and qualname is not None and f"{module}.{qualname}" in ids


def test_every_public_name_is_in_the_api_reference() -> None:
    pytest.importorskip("mkdocstrings")
    api = public_api()
    assert len(api["tinygrad_rnn"]) >= 10 and "backward" in api["tinygrad_rnn.tensor.Tensor"]
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = undocumented(api, _documented_ids(), page)
    assert not missing, (
        f"{len(missing)} public names are not in docs/api.md (add them to a ::: block's "
        f"members, or name them in backticks where mkdocstrings cannot render them): "
        f"{missing}")


def test_the_walk_and_the_check_find_a_missing_name() -> None:
    api = {"tinygrad_rnn.nn": ["Linear", "Brand_New"],
           "tinygrad_rnn.tensor.Tensor": ["grad", "tanh"]}
    ids = {"tinygrad_rnn.nn.layers.Linear", "tinygrad_rnn.tensor.Tensor.tanh"}
    # a function is not documented by a Tensor method of the same name
    assert undocumented({"tinygrad_rnn": ["zeros"]}, {"tinygrad_rnn.tensor.Tensor.zeros"},
                        "") == ["tinygrad_rnn.zeros"]
    assert undocumented({"tinygrad_rnn": ["zeros"]}, {"tinygrad_rnn.creation.zeros"}, "") == []
    assert undocumented(api, ids, "the gradient is `Tensor.grad`") == [
        "tinygrad_rnn.nn.Brand_New"]
    assert undocumented(api, ids, "no mention") == [
        "tinygrad_rnn.nn.Brand_New", "tinygrad_rnn.tensor.Tensor.grad"]
    walked = public_api()
    assert "Tensor" in walked["tinygrad_rnn"] and "LSTM" in walked["tinygrad_rnn.nn"]
    assert "parameters" in walked["tinygrad_rnn.nn.module.Module"]


def test_no_members_list_of_the_api_page_names_an_object_twice() -> None:
    """A name listed twice is rendered twice (the Hypothesis strategies once were)."""
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for block in re.findall(r"^::: (\S+)\n((?:    .*\n)+)", page, re.MULTILINE):
        members = re.findall(r"^ +- (\w+)$", block[1], re.MULTILINE)
        repeated = sorted({m for m in members if members.count(m) > 1})
        assert not repeated, f"{block[0]}: members listed twice: {repeated}"


def test_the_page_describes_optimizer_hyperparameters_as_the_code_has_them() -> None:
    """``hyperparameters`` is a read-only property built from ``checks``, the class
    attribute a subclass declares; the page must not ask for the opposite."""
    from tinygrad_rnn.nn import Parameter
    from tinygrad_rnn.optim import SGD, Optimizer

    assert isinstance(inspect.getattr_static(Optimizer, "hyperparameters"), property)
    opt = SGD([Parameter([1.0])], lr=0.1)
    assert opt.hyperparameters == tuple(SGD.checks) and "lr" in opt.hyperparameters
    with pytest.raises(AttributeError):
        opt.hyperparameters = ("lr",)  # read-only
    page = " ".join((ROOT / "docs" / "api.md").read_text(encoding="utf-8").split())
    assert "class attribute `Optimizer.hyperparameters`" not in page
    assert "`Optimizer.hyperparameters` is a read-only property" in page
    assert "class attribute `Optimizer.checks`" in page
