"""A threaded HTTP server on 127.0.0.1 that logs every request and can be told to fail."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the stand-in saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (slow server, latency)
    chunks: list[bytes] | None = None  # sent one by one without a Content-Length, then the connection closes
    chunk_delay: float = 0.0
    drop_after: int | None = None  # close the connection after this many body bytes (reset mid-body)


class StandIn:
    """Base: subclasses implement handle(request) -> Reply. Use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: deque[Reply] = deque()  # replies served before the real ones, one per request
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> Self:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    body=body,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    at=time.monotonic(),
                )
                with stand_in._lock:
                    stand_in.requests.append(req)
                    fault = stand_in.faults.popleft() if stand_in.faults and stand_in.accepts_fault(req) else None
                reply = fault or stand_in.handle(req)
                stand_in._send(self, reply)

            do_GET = _serve
            do_POST = _serve
            do_HEAD = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # The default backlog of 5 drops simultaneous connects; the client then waits 1 s to retry its SYN.
            request_queue_size = 128

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up mid-reply (timeouts, resets under test) is expected here

        self._server = Server(("127.0.0.1", 0), Handler)
        # shutdown() waits up to one poll interval; the default 0.5 s made every test using a stand-in slow.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"  # type: ignore[str-bytes-safe]  # a TCP server: host is text

    # -- behaviour
    def accepts_fault(self, request: Request) -> bool:
        """Which requests a queued fault applies to; subclasses narrow it (e.g. only searches)."""
        return True

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def fail_next(self, *replies: Reply) -> None:
        """Queue replies (errors, delays) to serve before the normal ones."""
        with self._lock:
            self.faults.extend(replies)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers.items():
                handler.send_header(k, v)
            if reply.chunks is not None:
                handler.send_header("Connection", "close")  # no length: the end of the body is the close
                handler.end_headers()
                handler.close_connection = True
                for c in reply.chunks:
                    handler.wfile.write(c)
                    handler.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                return
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            if handler.command == "HEAD":
                return
            if reply.drop_after is not None:
                handler.wfile.write(reply.body[: reply.drop_after])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.close()
                return
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
