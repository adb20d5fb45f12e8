"""The documentation cannot rot: every ```python block in docs/ runs here.

Rules (also stated in docs/contributing-docs.md):
  * the ```python blocks of one page run in order, in one shared namespace, inside a
    temporary working directory, after ``tg.manual_seed(0)``;
  * a block preceded by ``<!-- skip -->`` is illustrative only and is not run (use sparingly);
  * a block preceded by ``<!-- expect -->`` must print the text of the next ```text block
    (trailing spaces and blank lines ignored, runs of spaces count as one), so numbers
    quoted in the docs are the numbers the code gives. Integers must match exactly; a
    decimal number may differ by 1e-3 relative plus one unit in its last printed digit
    (another CPU's BLAS sums in another order). A block whose digits are not the point,
    such as a loss after thousands of steps, widens that: ``<!-- expect rel=0.05 -->``
    (also ``abs=A``); see tests/printed.py;
  * a block preceded by ``<!-- quote: tinygrad_rnn/engine.py -->`` is a quotation of that
    file: it is not run, but every line of it must occur in the file, in the same order
    (indentation aside; a line ``...`` marks an elision), so quoted code cannot drift.
Also: the op table in docs/ops.md is up to date with ops.py, it names every op class, and
``mkdocs build --strict`` passes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import built_site
import printed
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

SKIP = "<!-- skip -->"
EXPECT = "<!-- expect -->"
EXPECT_WITH = re.compile(r"^<!-- expect((?:\s+\w+=\S+)*) -->$")  # with a tolerance
QUOTE = re.compile(r"^<!-- quote: (\S+) -->$")
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)(?:\s+[^`]*)?$")  # ```python title="x.py" too


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    marker: str | None  # SKIP, EXPECT, the QUOTE comment, or None
    expected: str | None = None  # for EXPECT blocks: the text of the next ```text block
    tolerance: tuple[float, float] = (printed.DEFAULT_REL, printed.DEFAULT_ABS)  # rel, abs

    @property
    def quoted_file(self) -> str | None:
        m = QUOTE.match(self.marker or "")
        return m.group(1) if m else None

    @property
    def runs(self) -> bool:
        return self.lang == "python" and self.marker != SKIP and self.quoted_file is None


def parse(text: str, where: str = "<page>") -> list[Block]:
    """The fenced code blocks of a Markdown page, with their markers."""
    lines = text.splitlines()
    blocks: list[Block] = []
    marker: str | None = None
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        stripped = lines[i].strip()
        if stripped in (SKIP, EXPECT) or QUOTE.match(stripped) or EXPECT_WITH.match(stripped):
            marker = stripped
            i += 1
            continue
        if m is None:
            if stripped:
                marker = None  # a marker applies only to the block right after it
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{where}:{start + 1}: code block is never closed")
        block = Block(lang, "\n".join(body) + "\n", start + 1, marker)
        expect = EXPECT_WITH.match(marker or "")
        if expect:
            block.marker = EXPECT
            try:
                block.tolerance = printed.parse_tolerance(expect.group(1))
            except ValueError as e:
                raise ValueError(f"{where}:{start}: {e}") from None
        blocks.append(block)
        marker = None
        i += 1
    for k, block in enumerate(blocks):
        if block.marker == EXPECT:
            if block.lang != "python":
                raise ValueError(f"{where}:{block.line}: {EXPECT} must precede a python block")
            following = blocks[k + 1] if k + 1 < len(blocks) else None
            if following is None or following.lang != "text":
                raise ValueError(f"{where}:{block.line}: an {EXPECT} block must be followed "
                                 f"by a ```text block with its output")
            block.expected = following.code
    return blocks


def run_page(text: str, where: str) -> int:
    """Run the python blocks of one page; return how many ran. Raises on the first failure."""
    import tinygrad_rnn as tg

    tg.manual_seed(0)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for block in parse(text, where):
        if not block.runs:
            continue
        out = io.StringIO()
        code = compile(block.code, f"{where}:{block.line}", "exec")
        try:
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
        except Exception as e:
            raise AssertionError(
                f"{where}:{block.line}: the code block raised {type(e).__name__}: {e}\n"
                f"--- block ---\n{block.code}--- printed before the error ---\n{out.getvalue()}"
            ) from e
        if block.expected is not None:
            got = out.getvalue()
            why = printed.mismatch(got, block.expected, *block.tolerance)
            assert why is None, (
                f"{where}:{block.line}: {why}\n--- the block printed ---\n{got.rstrip()}\n"
                f"--- but the page shows ---\n{block.expected.rstrip()}\n(update the ```text "
                f"block with the real output, or widen the tolerance if the digits are not "
                f"the point)"
            )
        ran += 1
    return ran


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "img" not in p.relative_to(DOCS).parts)


def _pages_with_code() -> list[Path]:
    return [p for p in _pages() if any(b.runs for b in parse(p.read_text(), str(p)))]


@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                              ) -> None:
    from tinygrad_rnn.context import STATE

    if page.name == "performance.md":  # it shows the fast path at work: on, in both CI passes
        monkeypatch.setattr(STATE, "fast", True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(ROOT))
    assert run_page(page.read_text(), str(page.relative_to(ROOT))) > 0


def test_docs_have_pages_and_few_skips() -> None:
    pages = _pages()
    assert len(pages) >= 1
    blocks = [b for p in pages for b in parse(p.read_text(), str(p)) if b.lang == "python"]
    skipped = [b for b in blocks if b.marker == SKIP]
    # "used sparingly": at most one skipped block in ten
    assert len(skipped) * 10 <= len(blocks), f"{len(skipped)} of {len(blocks)} blocks skipped"


def check_quote(block: Block, where: str) -> int:
    """Every line of a quoted block occurs in the quoted file, in order; returns the count."""
    assert block.quoted_file is not None
    path = ROOT / block.quoted_file
    assert path.is_file(), f"{where}:{block.line}: quotes {block.quoted_file}, which is missing"
    source = [line.strip() for line in path.read_text().splitlines()]
    # a quotation may leave out a trailing comment (such as a linter directive)
    bare = [line.split("  # ")[0].rstrip() for line in source]
    # runs of lines separated by "..." lines: each run is consecutive in the file (blank
    # lines aside), and the runs come in order
    runs: list[list[str]] = [[]]
    for line in block.code.splitlines():
        line = line.strip()
        if line in ("...", "# ..."):
            runs.append([])
        elif line:
            runs[-1].append(line)
    lines = [k for k, line in enumerate(source) if line]  # the file's non-blank lines
    at = 0  # index into lines
    for run in (r for r in runs if r):
        start = next((i for i in range(at, len(lines) - len(run) + 1)
                      if all(q in (source[lines[i + j]], bare[lines[i + j]])
                             for j, q in enumerate(run))), None)
        if start is None:
            raise AssertionError(
                f"{where}:{block.line}: the quoted lines {run[0]!r} ... {run[-1]!r} are not "
                f"in {block.quoted_file} one after another (after the lines before them): "
                f"update the quotation, or mark a left-out part with a '...' line")
        at = start + len(run)
    return sum(len(r) for r in runs)


def _quotes() -> list[tuple[Path, Block]]:
    return [(p, b) for p in _pages() for b in parse(p.read_text(), str(p)) if b.quoted_file]


@pytest.mark.parametrize("page,block", _quotes(),
                         ids=lambda v: str(v.relative_to(DOCS)) if isinstance(v, Path)
                         else f"line{v.line}")
def test_quoted_code_matches_the_source(page: Path, block: Block) -> None:
    assert check_quote(block, str(page.relative_to(ROOT))) > 0


# ---- the runner itself: markers mean what they say ----------------------------------------

def test_runner_runs_blocks_in_order_in_one_namespace() -> None:
    page = textwrap.dedent("""\
        ```python
        x = 2
        ```
        Some prose.

        <!-- expect -->
        ```python
        print(x * 21)
        ```

        ```text
        42
        ```
        """)
    assert run_page(page, "page.md") == 2


def test_runner_reports_wrong_expected_output() -> None:
    page = "<!-- expect -->\n```python\nprint(1 + 1)\n```\n\n```text\n3\n```\n"
    with pytest.raises(AssertionError, match="the block printed"):
        run_page(page, "page.md")


def test_runner_reports_failing_block_with_its_line() -> None:
    page = "text\n\n```python\nraise ValueError('boom')\n```\n"
    with pytest.raises(AssertionError, match=r"page\.md:3: .*ValueError: boom"):
        run_page(page, "page.md")


def test_runner_skip_marker_applies_to_the_next_block_only() -> None:
    page = ("<!-- skip -->\n```python\nraise RuntimeError\n```\n\n"
            "```python\nran = True\n```\n")
    blocks = parse(page)
    assert [b.marker for b in blocks] == [SKIP, None]
    assert run_page(page, "page.md") == 1


def test_runner_rejects_expect_without_text_block() -> None:
    with pytest.raises(ValueError, match="must be followed"):
        parse("<!-- expect -->\n```python\nprint(1)\n```\n", "page.md")


def test_quote_check_catches_drift(tmp_path: Path) -> None:
    good = parse("<!-- quote: tinygrad_rnn/ops.py -->\n```python\nclass Tanh(Function):\n"
                 "    ...\n    def backward(self, g: np.ndarray) -> Grads:\n```\n")[0]
    assert not good.runs
    assert check_quote(good, "page.md") == 2
    drifted = parse("<!-- quote: tinygrad_rnn/ops.py -->\n```python\n"
                    "class Tanh(NotAFunction):\n```\n")[0]
    with pytest.raises(AssertionError, match="not in tinygrad_rnn/ops.py"):
        check_quote(drifted, "page.md")
    out_of_order = parse("<!-- quote: tinygrad_rnn/ops.py -->\n```python\nclass Tanh(Function):"
                         "\nclass Add(Function):\n```\n")[0]
    with pytest.raises(AssertionError, match="update the quotation"):
        check_quote(out_of_order, "page.md")
    # lines left out without a "..." line: the quotation claims code that is not there
    gap = parse("<!-- quote: tinygrad_rnn/ops.py -->\n```python\nclass Tanh(Function):\n"
                "    def backward(self, g: np.ndarray) -> Grads:\n```\n")[0]
    with pytest.raises(AssertionError, match="one after another"):
        check_quote(gap, "page.md")


# ---- the generated op table -----------------------------------------------------------------

def _gen_ops():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_ops", DOCS / "gen_ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_op_table_is_up_to_date() -> None:
    gen = _gen_ops()
    page = (DOCS / "ops.md").read_text()
    assert gen.render(page) == page, "docs/ops.md is out of date: run python docs/gen_ops.py"


def test_op_table_lists_every_op_class_with_its_vjp() -> None:
    from tinygrad_rnn import ops
    from tinygrad_rnn.function import Function

    classes = [name for name, obj in vars(ops).items()
               if isinstance(obj, type) and issubclass(obj, Function) and obj is not Function]
    assert len(classes) >= 20
    page = (DOCS / "ops.md").read_text()
    for name in classes:
        row = re.search(rf"^\| `{name}` \|(.*)$", page, re.MULTILINE)
        assert row is not None, f"docs/ops.md has no row for op {name}"
        forward, vjp = row.group(1).split("|")[1:3]
        assert "y =" in forward, f"{name}: no forward formula in its row"
        assert "=" in vjp and "g" in vjp, f"{name}: no VJP in its row"


# ---- the site builds -----------------------------------------------------------------------

def test_mkdocs_build_strict() -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    assert (built_site.site() / "index.html").is_file()
