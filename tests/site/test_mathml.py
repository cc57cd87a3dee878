"""TeX to MathML: delimiters, inline versus display `$$`, currency, broken formulas, hostile TeX."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from digest.site.mathml import find_math, math_plugin, render_text, tex_to_mathml


@pytest.fixture(scope="module")
def md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).use(math_plugin)


def maths(html: str) -> list[str]:
    """The display attribute of every <math> element, in order."""
    return re.findall(r'<math xmlns="http://www.w3.org/1998/Math/MathML" display="(inline|block)">', html)


def test_inline_delimiters(md: MarkdownIt) -> None:
    html = md.render(r"能量 $E = mc^2$ 与 \(x_t\) 两式。")
    assert maths(html) == ["inline", "inline"]
    assert "<msup><mi>c</mi><mn>2</mn></msup>" in html
    assert "<msub><mi>x</mi><mi>t</mi></msub>" in html
    assert html.startswith("<p>能量 <math") and html.rstrip().endswith("两式。</p>")
    assert "$" not in html and "\\(" not in html


def test_double_dollar_inside_a_sentence_stays_inline(md: MarkdownIt) -> None:
    html = md.render("公式为 $$l_k = a_i t_{k,i}$$，其中 $$a_i$$ 为贡献强度。")
    assert maths(html) == ["inline", "inline"]
    assert html.count("<p>") == 1


@pytest.mark.parametrize(
    "source",
    [
        "$$x^2 + y^2$$",
        "前文。\n\n$$\nx^2 + y^2\n$$\n\n后文。",
        "- **定义**：量化信息量，公式为\n  $$ x^2 + y^2 $$\n  其中 x 为时间占比。",
        r"\[x^2 + y^2\]",
        r"见 \[x^2 + y^2\] 一式",
    ],
)
def test_display_math(md: MarkdownIt, source: str) -> None:
    html = md.render(source)
    assert maths(html) == ["block"]
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html


def test_currency_is_not_math(md: MarkdownIt) -> None:
    for text in ["It costs $5 and $6 per hour.", "between $ 5 and 6 $", "$a$5 or $b$12", r"price \$5 and \$x\$"]:
        html = md.render(text)
        assert "<math" not in html, text
        assert "$" in html
    assert md.render(r"price \$5").strip() == "<p>price $5</p>"


def test_a_broken_formula_is_shown_as_tex_not_raised(md: MarkdownIt) -> None:
    html = md.render(r"坏公式 $\frac{a}{$ 与好公式 $b^2$。")
    assert r'<code class="math-error">$\frac{a}{$</code>' in html
    assert maths(html) == ["inline"]
    assert tex_to_mathml("x^") == '<code class="math-error">x^</code>'
    assert 'class="math-error display"' in tex_to_mathml(r"\begin{matrix} a", display=True)


def test_math_is_taken_before_markdown_touches_it(md: MarkdownIt) -> None:
    html = md.render(r"$a_1 * b_2 * c$ and \(x \_ y\) and $[a](b)$")
    assert "<em>" not in html and "<a " not in html
    assert len(maths(html)) == 3
    # code spans keep their dollars
    assert md.render("`$x$`").strip() == "<p><code>$x$</code></p>"


def test_hostile_tex_cannot_inject_markup() -> None:
    html = tex_to_mathml(r"\text{<script>alert(1)</script>} + \href{javascript:alert(1)}{x}")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "javascript" not in html and "href" not in html
    assert tex_to_mathml(r"\color{red}{y}").count('mathcolor="red"') == 1
    assert "<mi>&amp;</mi>" in tex_to_mathml(r"a \& b") or "&amp;" in tex_to_mathml(r"a \& b")


def test_entities_are_decoded_once() -> None:
    html = tex_to_mathml(r"a < b = c")
    assert "<mo>&lt;</mo>" in html and "<mo>=</mo>" in html
    assert "&amp;#x" not in html and "&#x" not in html


def test_render_text_for_titles_and_abstracts() -> None:
    html = render_text(r"Loss $\mathcal{L}$ < 1 & costs $5 and $6")
    assert html.startswith("Loss <math") and "&lt; 1 &amp; costs $5 and $6" in html
    assert render_text("plain <b> text") == "plain &lt;b&gt; text"
    assert render_text(r"\$5") == "$5"
    assert render_text("$$x$$").count('display="block"') == 1
    assert render_text("see $$x$$ here").count('display="inline"') == 1


def test_find_math_spans() -> None:
    span = find_math("$$ a $$\nrest", 0)
    assert span is not None and span.tex == "a" and span.display and span.end == 7
    span = find_math("$$ a $$ rest", 0)
    assert span is not None and not span.display  # text follows on its line: inline
    assert find_math("$$ $$", 0) is None
    assert find_math(r"\( \)", 0) is None
    assert find_math("$x", 0) is None
    assert find_math("$x\n\ny$", 0) is None  # never across paragraphs


def test_seed_posts_render_their_math_as_mathml(md: MarkdownIt) -> None:
    from helpers import seed_files

    total = errors = 0
    for path in seed_files():
        html = md.render(path.read_text(encoding="utf-8"))
        total += html.count("<math ")
        errors += html.count('class="math-error')
        assert "\\(" not in html  # every inline formula was taken
    assert total > 20
    assert errors <= total // 20  # nearly all seed formulas convert
