"""docs/img stays in sync with docs/img/make_images.py: every picture there has a recipe,
every recipe still runs (DOT only: no layout, so this is cheap) and every picture is shown
by some page. Re-making the PNGs themselves needs a Graphviz: ``python
docs/img/make_images.py``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def recipes():
    spec = importlib.util.spec_from_file_location("make_images", IMG / "make_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PICTURES


def test_every_picture_has_a_recipe_and_is_shown(recipes):
    pngs = {p.stem for p in IMG.glob("*.png")}
    assert pngs == set(recipes), (pngs ^ set(recipes))
    pages = "".join(p.read_text(encoding="utf-8") for p in
                    [*ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
    shown = set(re.findall(r"img/(\w+)\.png", pages))
    assert set(recipes) <= shown, set(recipes) - shown


def test_every_recipe_still_draws(recipes):
    for name, recipe in recipes.items():
        source = recipe().source
        assert "digraph" in source and "t=" in source or "folded" in name, name


def test_pictures_are_linked_to_full_size_on_the_pages_that_show_them():
    for page in ["docs/visualisation.md", *(f"docs/curriculum/{n}" for n in
                 ("3-bptt.md", "5-gru.md", "6-lstm.md", "7-deeper.md"))]:
        text = (ROOT / page).read_text(encoding="utf-8")
        for alt, src in re.findall(r"!\[([^\]]*)\]\(([^)]+\.png)\)", text):
            assert f"[![{alt}]({src})]({src})" in text, (page, src)
