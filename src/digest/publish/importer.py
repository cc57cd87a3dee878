"""`digest import`: find post files and read each through the post format's parser (render.parse_post)."""

from __future__ import annotations

from pathlib import Path

from digest.core.errors import UsageError
from digest.publish.markdown import ParsedPost, parse_post, unexplained_changes

__all__ = ["ImportResult", "find_posts", "parse_post", "read_post"]

ImportResult = ParsedPost  # the name earlier versions used


def find_posts(paths: list[Path]) -> list[Path]:
    """Expand files and folders into post files (*.md, *.markdown), sorted; a path that does not exist is an error."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)} (check the path; nothing was imported)")
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.suffix in (".md", ".markdown") and q.is_file()))
        else:
            found.append(p)
    return found


def read_post(path: Path) -> ParsedPost:
    """Parse one post file; problems, normalisations and any unexplained re-render difference name file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ParsedPost(None, [f"{path}: cannot read ({exc.__class__.__name__}); check the file"])
    parsed = parse_post(text, str(path))
    if not parsed.problems:
        # A safety net for the rule "a re-render is byte-identical except what is reported".
        parsed.problems.extend(unexplained_changes(text, parsed, str(path)))
    return parsed
