"""The build manifest: which files a build owns, and the hash of the inputs each page was made from.

It lives beside the output folder (never published). A rebuild renders a day or paper page only when the hash
of its inputs (the site-wide key, the records it shows, its neighbours' titles) differs from the one stored,
so a build after one new day does work in proportion to that day, not to the archive. Builds before issue 23
kept a plain list of paths; that is read as "owned, inputs unknown", so their first rebuild renders everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from digest.core.files import write_or_fail

FORMAT = 2
OLD_MANIFEST = ".digest-site"  # where builds before issue 15 kept the manifest: inside the published folder


def digest_of(*parts: str | bytes) -> str:
    """A short stable hash of the parts (strings UTF-8), separated so ("ab", "c") and ("a", "bc") differ."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:32]


def manifest_path(out_dir: Path) -> Path:
    """Where a build lists the files it owns: beside the output folder, so it is never published."""
    out = out_dir.resolve()
    return out.parent / f".{out.name}.digest-site"


@dataclass
class Manifest:
    """Files owned by the last build (site-root paths) and, per page, the hash of the inputs it was made from."""

    pages: dict[str, str] = field(default_factory=dict)  # path -> input hash ("" when not known)

    def owned(self) -> list[str]:
        """Every path the last build wrote."""
        return list(self.pages)


def read_manifest(out_dir: Path) -> Manifest:
    """The last build's manifest; empty when there is none, unknown hashes for an old plain-list one."""
    found = Manifest()
    for path in (manifest_path(out_dir), out_dir / OLD_MANIFEST):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("pages"), dict):
            found.pages.update({str(k): str(v) for k, v in data["pages"].items()})
        else:  # the plain list of paths older builds wrote; a damaged manifest reads as nothing known
            found.pages.update({line: "" for line in text.splitlines() if line and not line.startswith("{")})
    return found


def write_manifest(out_dir: Path, pages: dict[str, str]) -> None:
    """Store this build's files and their input hashes."""
    data = {"format": FORMAT, "pages": dict(sorted(pages.items()))}
    write_or_fail(manifest_path(out_dir), json.dumps(data, indent=0) + "\n", "site manifest")


def record_hashes(paths: Iterable[tuple[str, Path]]) -> dict[str, str]:
    """date -> hash of the record file's bytes ("" when it cannot be read: its pages are then always made)."""
    hashes: dict[str, str] = {}
    for day, path in paths:
        try:
            hashes[day] = digest_of(path.read_bytes())
        except OSError:
            hashes[day] = ""
    return hashes
