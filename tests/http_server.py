"""A small real HTTP/1.1 server on a free loopback port, for tests of code that fetches pages.

It runs its own event loop in a thread, so it serves sync and async tests alike, and answers
what a test tells it to, by path:

- `serve(path, body=..., status=..., headers=...)` — a canned answer; with `etag=`, a request
  whose If-None-Match matches gets 304 with no body;
- `redirect(path, location, status=302)`;
- `serve(path, delay=2.0)` — waits before answering (a slow site);
- `serve(path, stream=10_000_000)` — that many bytes, chunked, with no Content-Length (a huge
  page that only reading it shows to be huge).

Any other path is a 404. Every request is kept in `requests`, headers and all, so a test can
see what the client sent. One connection serves one request (`Connection: close`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_STATUS_TEXT = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    500: "Internal Server Error",
}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    etag: str = ""
    delay: float = 0.0
    stream: int = 0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case


class HttpServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.port = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(
        self,
        path: str,
        *,
        body: bytes | str = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str = "",
        delay: float = 0.0,
        stream: int = 0,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(status, dict(headers or {}), data, etag, delay, stream)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        self.serve(path, status=status, headers={"Location": location})

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        sock: socket.socket = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, as a client that gives up does
        except ValueError:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        with self._lock:
            self.requests.append(Request(method, path, headers))

        route = self.routes.get(path, Route(status=404, body=b"Not found"))
        if route.delay:
            await asyncio.sleep(route.delay)
        status, body, extra = route.status, route.body, dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
            if headers.get("if-none-match") == route.etag:
                status, body = 304, b""
        if route.stream:
            extra["Transfer-Encoding"] = "chunked"
        elif status != 304:
            extra["Content-Length"] = str(len(body))
        reason = _STATUS_TEXT.get(status, "Unknown")
        lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in extra.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if route.stream:
            await self._stream(writer, route.stream)
        elif method != "HEAD":
            writer.write(body)
        await writer.drain()

    async def _stream(self, writer: asyncio.StreamWriter, size: int) -> None:
        sent = 0
        while sent < size:
            chunk = b"<div>" * (min(_CHUNK, size - sent) // 5) or b"x"
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
        writer.write(b"0\r\n\r\n")


@contextmanager
def running() -> Iterator[HttpServer]:
    server = HttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
