"""The built site, read as a student reads it: in headless Chromium, with no network.

Every page of the built site (the curriculum's above all, and the notebook's) is opened
from file:// in a browser that can reach nothing (its proxy is a closed local port), at
1280 px. The maths must be typeset by the MathJax shipped with the site: no raw TeX left in
the visible text (body, navigation, table of contents), no MathJax error, and no formula
wider than the text column.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and selenium;
skipped where either is missing (a failure under CI=true). Set TINYGRAD_RNN_SCREENSHOTS=DIR
to keep a screenshot of each page.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import built_site
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _built_path(source: Path) -> Path:
    """docs/curriculum/3-bptt.md -> curriculum/3-bptt (its index.html); index.md -> ."""
    relative = source.relative_to(ROOT / "docs")
    return relative.parent if relative.stem == "index" else relative.with_suffix("")


# every page: the curriculum is where the maths is, but any page may gain a formula
PAGES = sorted(_built_path(p) for p in (ROOT / "docs").rglob("*")
               if p.suffix in (".md", ".ipynb") and "img" not in p.parts)
WIDTH = 1280

# TeX that MathJax should have replaced: a command, a math delimiter, $...$ left as text.
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\$\$|\\[()\[\]]|\$[^$\s][^$\n]*\$")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--window-size={WIDTH},900",
         # no network: the pages come from file://, any request goes to a closed local port
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def _binary(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser(require) -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = _binary("chromium", "chromium-browser")
    driver_path = _binary("chromedriver")
    require(chromium and driver_path, "needs chromium and chromedriver (apt-get install "
            "chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="tinygrad_rnn_chromium_")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver.set_window_size(WIDTH, 900)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# Waits for MathJax, then measures; runs inside the page.
MEASURE = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
  done({error: "MathJax did not load"}); return;
}
MathJax.startup.promise.then(() => {
  const hidden = [...document.querySelectorAll("pre, code")];  // code may show backslashes
  hidden.forEach(e => e.style.setProperty("display", "none", "important"));
  const text = document.body.innerText;
  hidden.forEach(e => e.style.removeProperty("display"));
  const column = document.querySelector("article.md-content__inner");
  const style = getComputedStyle(column);
  const width = column.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
  const wide = [];
  const formulas = "article .arithmatex, article mjx-container[display='true']";
  for (const box of document.querySelectorAll(formulas)) {
    if (box.matches("mjx-container") && box.closest(".arithmatex")) continue;  // counted
    const w = Math.max(box.scrollWidth, box.getBoundingClientRect().width);
    if (w > width + 1) wide.push({width: w, tex: box.textContent.slice(0, 80)});
  }
  done({
    text: text,
    column: width,
    wide: wide,
    maths: document.querySelectorAll("article .arithmatex").length,
    typeset: document.querySelectorAll("article .arithmatex mjx-container").length,
    errors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent),
    page_width: document.documentElement.scrollWidth,
    window_width: window.innerWidth,
  });
}).catch(e => done({error: String(e)}));
"""


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p) if str(p) != "." else "index")
def test_curriculum_page_shows_typeset_maths_that_fits(browser, page: Path) -> None:
    html = built_site.site() / page / "index.html"
    assert html.is_file(), f"the built site has no {page}/index.html"
    browser.get(html.as_uri())  # type: ignore[attr-defined]
    got = browser.execute_async_script(MEASURE)  # type: ignore[attr-defined]
    assert "error" not in got, f"{page}: {got.get('error')}"
    if shots := os.environ.get("TINYGRAD_RNN_SCREENSHOTS"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(shots) / f"{str(page).replace('/', '_')}.png"))  # type: ignore[attr-defined]
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(got["text"])})
    assert not raw, f"{page}: raw TeX in the visible text: {raw[:10]}"
    assert got["typeset"] == got["maths"], (
        f"{page}: MathJax typeset {got['typeset']} of {got['maths']} formulas")
    assert not got["errors"], f"{page}: MathJax errors: {got['errors']}"
    assert got["column"] > 400
    assert not got["wide"], (
        f"{page}: formulas wider than the {got['column']:.0f} px text column at {WIDTH} px: "
        f"{got['wide']}")
    assert got["page_width"] <= got["window_width"], f"{page}: the page scrolls sideways"


def test_the_checks_catch_raw_tex() -> None:
    assert RAW_TEX.search(r"where \frac{a}{b} is")
    assert RAW_TEX.search(r"s\langle t\rangle")
    assert RAW_TEX.search("$$ x $$") and RAW_TEX.search(r"\(x\)") and RAW_TEX.search("$a_t$")
    assert not RAW_TEX.search("∂E₃/∂W_y: one step, costs $5 each")


INJECT = r"""
const done = arguments[arguments.length - 1];
const article = document.querySelector("article.md-content__inner");
const wide = document.createElement("div");
wide.className = "arithmatex";
wide.textContent = "\\[" + Array(40).fill("W_{f} a^{\\langle t-1\\rangle}").join(" + ") + "\\]";
article.appendChild(wide);
const raw = document.createElement("p");
raw.textContent = "left for MathJax by mistake: \\frac{a}{b}";
article.appendChild(raw);
MathJax.typesetPromise([wide]).then(() => done(true)).catch(e => done(String(e)));
"""


def test_the_browser_checks_catch_a_wide_formula_and_raw_tex(browser) -> None:
    browser.get((built_site.site() / "curriculum" / "6-lstm" / "index.html").as_uri())  # type: ignore[attr-defined]
    assert browser.execute_async_script(MEASURE)["wide"] == []  # type: ignore[attr-defined]
    assert browser.execute_async_script(INJECT) is True  # type: ignore[attr-defined]
    got = browser.execute_async_script(MEASURE)  # type: ignore[attr-defined]
    assert len(got["wide"]) == 1 and got["wide"][0]["width"] > got["column"]
    assert r"\frac" in {m.group(0) for m in RAW_TEX.finditer(got["text"])}
