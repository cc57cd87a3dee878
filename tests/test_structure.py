"""The package's shape, enforced: layer sizes and function sizes (ruff and import-linter check the rest).

Limits from the structure issue: no module over 600 lines, `pipeline.py` at most 250, no function over 60
lines or 7 parameters. The stand-ins' data builders (fake papers and PDFs with many fields) are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "digest"
EXEMPT = {("standins/arxiv_server.py", "make_paper"), ("standins/pdfgen.py", "make_paper_pdf"),
          ("standins/pdfgen.py", "_layout")}
MAX_MODULE_LINES = 600
MAX_PIPELINE_LINES = 250
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 7


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    named = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs] if x.arg not in ("self", "cls")]
    return len(named) + (a.vararg is not None) + (a.kwarg is not None)


def test_the_package_is_where_the_limits_expect_it() -> None:
    assert (PACKAGE / "pipeline.py").is_file() and len(_modules()) > 40


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_function_sizes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    rel = str(path.relative_to(PACKAGE))
    limit = MAX_PIPELINE_LINES if rel == "pipeline.py" else MAX_MODULE_LINES
    assert text.count("\n") <= limit, f"{rel}: {text.count(chr(10))} lines, at most {limit}"
    too_big = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (rel, node.name) in EXEMPT:
            continue
        lines = (node.end_lineno or node.lineno) - node.lineno + 1
        if lines > MAX_FUNCTION_LINES or _parameters(node) > MAX_PARAMETERS:
            too_big.append(f"{node.name} (line {node.lineno}): {lines} lines, {_parameters(node)} parameters")
    assert not too_big, f"{rel}: " + "; ".join(too_big)


def test_the_pipeline_imports_no_output() -> None:
    tree = ast.parse((PACKAGE / "pipeline.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    banned = ("digest.publish.notify", "digest.site", "digest.publish.markdown")
    assert not [m for m in imported if m.startswith(banned)]
