"""Real translation answers through the translation check: how many pass, are repaired, would be asked again.

    .venv/bin/python benchmarks/bench_translations.py [--posts ../shared/oldblog/_posts] [--show]

The old blog's posts hold real model answers (DeepSeek) to the translation prompt, as the blog showed them.
Each goes through the task's own path in the runner: the check, and when it fails, the repair (dropping a
leading title or label line), then the check again. `pass` needed nothing, `repaired` passes after the repair
without a second call, `re-asked` would still cost one. The posts do not keep the English abstracts, so the
check's length limit (four times the abstract) cannot be applied and is given room; every other rule is.
Prints a table and one JSON line; exits 1 when an answer the check passes is changed by the repair.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from digest.enrich.tasks.translate import check_translation, strip_title_lines  # noqa: E402
from digest.publish.importer import parse_post  # noqa: E402

DEFAULT_POSTS = Path(__file__).resolve().parents[2] / "shared" / "oldblog" / "_posts"


def classify(text: str, title: str) -> tuple[str, str | None]:
    """`pass`, `repaired` or `re-asked`, with the check's reason for the first answer (None when it passed)."""
    room = "x" * (4 * len(text))  # stands for the absent English abstract: the length rule never fires
    first = check_translation(text, title, room)
    if first is None:
        return "pass", None
    repaired = strip_title_lines(text, title)
    if repaired != text and check_translation(repaired, title, room) is None:
        return "repaired", first
    return "re-asked", first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=Path, default=DEFAULT_POSTS, help="folder of real posts (default ../shared)")
    ap.add_argument("--show", action="store_true", help="print the first line of every answer that failed the check")
    args = ap.parse_args()
    files = sorted(args.posts.glob("*.md"))
    if not files:
        print(f"bench_translations: no posts in {args.posts}; pass --posts FOLDER", file=sys.stderr)
        return 2
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    untouched_ok = True
    for f in files:
        record = parse_post(f.read_text(encoding="utf-8"), f.name).record
        for e in record.papers if record else []:
            if e.translation is None or not e.translation.text:
                continue
            kind, why = classify(e.translation.text, e.title)
            counts[kind] += 1
            if why:
                reasons[f"{kind}: {why}"] += 1
                if args.show:
                    print(f"  {kind:9} {f.name} {e.id}: {e.translation.text.splitlines()[0][:70]}")
            # The repair must leave every passing answer as it is.
            untouched_ok &= kind != "pass" or strip_title_lines(e.translation.text, e.title) == e.translation.text
    total = sum(counts.values())
    print(f"{len(files)} posts, {total} translations")
    for kind in ("pass", "repaired", "re-asked"):
        print(f"  {kind:9} {counts[kind]:5}")
    for reason, n in sorted(reasons.items()):
        print(f"    {reason}: {n}")
    print(json.dumps({"bench": "translations", "posts": len(files), "translations": total, "pass": counts["pass"],
                      "repaired": counts["repaired"], "re_asked": counts["re-asked"],
                      "passing_answers_untouched": untouched_ok}, ensure_ascii=False))
    return 0 if untouched_ok else 1


if __name__ == "__main__":
    sys.exit(main())
