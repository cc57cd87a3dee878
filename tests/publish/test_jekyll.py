"""The repository's Jekyll side builds with a real Jekyll, and hostile posts come out as text.

Needs the `jekyll` command (Debian: jekyll jekyll-theme-minima ruby-jekyll-feed; scripts/ci-system-deps.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from digest.publish.importer import parse_post
from digest.publish.markdown import render_post
from helpers import seed_files
from tests.site.test_site import hostile_record

pytestmark = [
    pytest.mark.jekyll,
    pytest.mark.skipif(
        shutil.which("jekyll") is None,
        reason="jekyll is not on PATH (install it with scripts/ci-system-deps.sh)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
SITE_FILES = ("_config.yml", "index.md", "archive.md", "_includes", "_layouts")


def _content(html: str) -> str:
    """The post body of a minima page (between the post-content div and the end of the article)."""
    start = html.index('<div class="post-content e-content"')
    return html[start : html.index("</article>", start)]


@pytest.fixture(scope="module")
def jekyll_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("jekyll-src")
    for name in SITE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name)
        else:
            shutil.copy(path, src / name)
    posts = src / "_posts"
    posts.mkdir()
    record = hostile_record()
    (posts / f"{record.date}-arxiv.md").write_text(render_post(record), encoding="utf-8")
    seed = seed_files()[-1]
    imported = parse_post(seed.read_text(encoding="utf-8"), seed.name).record
    assert imported is not None
    (posts / seed.name).write_text(render_post(imported), encoding="utf-8")

    out = src / "_site"
    proc = subprocess.run(
        ["jekyll", "build", "--source", str(src), "--destination", str(out), "--trace"],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(src), "LANG": "C.UTF-8", "JEKYLL_ENV": "production"},
    )
    assert proc.returncode == 0, f"jekyll build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out


def test_jekyll_builds_every_page(jekyll_site: Path) -> None:
    for rel in ("index.html", "archive.html", "feed.xml", "2026/02/03/arxiv.html", "2026/01/28/arxiv.html"):
        assert (jekyll_site / rel).is_file(), rel
    archive = (jekyll_site / "archive.html").read_text(encoding="utf-8")
    assert archive.index("arXiv Daily – 2026-02-03") < archive.index("arXiv Daily – 2026-01-28")
    # The tool's own folders are not published.
    assert not (jekyll_site / "src").exists() and not (jekyll_site / "tests").exists()


def test_hostile_content_is_text_and_runs_nothing(jekyll_site: Path) -> None:
    html = (jekyll_site / "2026/02/03/arxiv.html").read_text(encoding="utf-8")
    body = _content(html)
    # Liquid in titles and abstracts is shown, not evaluated (and did not abort the build).
    assert "{{ site.title }}" in body and "{% include evil.html %}" in body
    assert "{{ page.secret }}" in body and "{% if x %}" in body
    assert "{% raw %}" not in html
    assert re.search(r"Quoted (&quot;|&ldquo;|“|\")Title(&quot;|&rdquo;|”|\"): Colons", body)
    # Model HTML is text; only the two papers are headings.
    assert "<script" not in body.lower()
    assert "&lt;script&gt;alert(" in body or "&lt;script>alert(" in body
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", body, re.IGNORECASE)
    assert len(re.findall(r"<h2\b", body)) == 2
    # Scripts live only in the head: seo's JSON-LD and MathJax from _includes/head.html.
    head, _, page_body = html.partition("</head>")
    assert "<script" not in page_body.lower()
    assert 'id="MathJax-script"' in head
    # kramdown's math engine turns `$$…$$` into MathJax markup.
    assert "\\sum_{i} w_i x_i^2" in body


def test_seed_details_block_renders_its_markdown(jekyll_site: Path) -> None:
    html = (jekyll_site / "2026/01/28/arxiv.html").read_text(encoding="utf-8")
    blocks = re.findall(r"<details>(.*?)</details>", _content(html), re.DOTALL)
    assert len(blocks) >= 10
    rendered = [b for b in blocks if "全文解读失败" not in b]
    assert rendered
    for block in rendered:
        assert "<summary>详细解读</summary>" in block
        assert "<li>" in block and "<strong>" in block
        assert "**" not in block


def test_home_shows_the_newest_post(jekyll_site: Path) -> None:
    home = (jekyll_site / "index.html").read_text(encoding="utf-8")
    assert "arXiv Daily – 2026-02-03" in home
    assert "A Calm Paper About Speech: Part II" in home  # a paper of the newest post, in full
    assert "<details>" in home
    assert 'href="/2026/01/28/arxiv.html"' in home  # the older post, as a link
