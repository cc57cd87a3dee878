"""The API key never lands in a record, post, cache file, log line or error message, even when a server echoes it."""

from __future__ import annotations

from pathlib import Path

from digest.standins.chat_server import ChatStandIn

from .kit import KEY, HostileSite


def _files_with_key(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


def test_the_key_appears_nowhere_after_good_bad_and_debug_runs(tmp_path: Path) -> None:
    with HostileSite(tmp_path, 2) as site:
        # A hostile or careless server echoes the key back in its error texts.
        site.chat.fail_next(ChatStandIn.error(400, f"bad request from key {KEY}"),
                            ChatStandIn.error(500, f"internal error, key={KEY}"))
        procs = [site.run("--verbose")]
        procs.append(site.run("--force", "--debug"))
        site.chat.fail_next(*[ChatStandIn.error(401, f"Incorrect API key provided: {KEY}")] * 20)
        procs.append(site.run("--force", "--debug"))
        site.chat.faults.clear()
        procs.append(site.digest("preview", site.papers[0].id, "--debug"))
        site.arxiv.error_next(503, times=10)
        procs.append(site.run("--debug"))

        assert [p.returncode for p in procs] == [0, 0, 1, 0, 1], [p.stderr[-300:] for p in procs]
        assert "refused the API key" in procs[2].stderr
        assert "## " in procs[3].stdout
        assert "Traceback" in procs[4].stderr  # --debug really printed the traceback we inspect
        # the key did reach the model service, so its absence below means something
        assert site.chat.requests[0].headers.get("authorization") == f"Bearer {KEY}"
        assert all(KEY not in text for text in site.outputs), "the key leaked into the command output"
        assert all(KEY[6:20] not in text for text in site.outputs)  # nor a recognisable part of it
        assert _files_with_key(tmp_path) == [], "the key leaked into a file of the site"
        assert (tmp_path / ".cache" / "digest").is_dir() and (tmp_path / "_data" / "digest").is_dir()
        assert "request from key" not in site.record_file.read_text(encoding="utf-8")
