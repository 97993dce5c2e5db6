"""HTTP transport: a threading HTTP/1.1 keep-alive server around :class:`SimulatorApp`.

``SimulatorServer(...).start()`` serves in a background thread (tests, benchmarks);
:func:`run` serves in the foreground until SIGINT/SIGTERM (the CLI).  An answer whose
status is ``RESET`` (an outage in "reset" mode) is no answer: the connection is reset.
"""

from __future__ import annotations

import signal
import socket
import struct
import sys
import threading
import time
import tomllib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from simulator.app import SimulatorApp
from simulator.corpus import Corpus, get_corpus
from simulator.faults import SimConfig
from simulator.outage import RESET


def load_credentials(path: str | Path | None) -> dict[str, str] | None:
    """client_key -> client_secret from ``[credentials.<name>]`` tables; None without a file."""
    if path is None:
        return None
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {str(t["client_key"]): str(t["client_secret"])
            for t in data.get("credentials", {}).values()
            if isinstance(t, dict) and "client_key" in t and "client_secret" in t}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tiktok-research-simulator"
    sys_version = ""
    timeout = 300  # idle keep-alive connections end eventually

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        app: SimulatorApp = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        app.quota.enter()
        try:
            resp = app.handle(method, path, query, self.headers, body)
            if resp.delay_s > 0:
                time.sleep(resp.delay_s)
        finally:
            app.quota.leave()
        if resp.status == RESET:
            self.close_connection = True
            self.server.reset_on_close(self.connection)  # type: ignore[attr-defined]
            return
        head = (f"HTTP/1.1 {resp.status} {_reason(resp.status)}\r\nContent-Type: {resp.content_type}\r\n"
                f"Content-Length: {len(resp.body)}\r\n")
        if self.close_connection:
            head += "Connection: close\r\n"
        # One write for head and body: no Nagle/delayed-ACK stall between two small sends.
        self.wfile.write(head.encode("latin-1") + b"\r\n" + resp.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # one line per request would cost more than serving it


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, app: SimulatorApp) -> None:
        self.app = app
        self._conns: set[socket.socket] = set()
        self._resets: set[socket.socket] = set()  # to be closed with an RST, unanswered
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def reset_on_close(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._resets.add(conn)

    def shutdown_request(self, request) -> None:
        with self._conns_lock:
            self._conns.discard(request)
            reset = request in self._resets
            self._resets.discard(request)
        if reset:
            # Linger 0 makes close() send an RST, so the client's read fails with a
            # connection reset.  No shutdown(SHUT_WR) first: its FIN would arrive first and
            # read as an orderly close.
            try:
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close_request(request)
            return
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop kept-alive connections so their handler threads end with the server."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimulatorServer:
    """The simulator on a real port; a context manager (``with SimulatorServer() as sim``)."""

    def __init__(self, seed: int = 7, host: str = "127.0.0.1", port: int = 0,
                 config: SimConfig | None = None, credentials_file: str | Path | None = None,
                 videos: int = 60000) -> None:
        self.host, self.port = host, port
        self.corpus: Corpus = get_corpus(seed, videos)
        self.app = SimulatorApp(self.corpus, config or SimConfig(), load_credentials(credentials_file), seed)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def config(self) -> SimConfig:
        return self.app.config

    def set_config(self, **changes) -> SimConfig:
        return self.app.set_config(**changes)

    def start(self) -> SimulatorServer:
        self._httpd = _HTTPServer((self.host, self.port), self.app)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="simulator-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run(seed: int = 7, host: str = "127.0.0.1", port: int = 8901, config: SimConfig | None = None,
        credentials_file: str | Path | None = None, videos: int = 60000) -> None:
    """Serve in the foreground until SIGINT or SIGTERM."""
    server = SimulatorServer(seed=seed, host=host, port=port, config=config,
                             credentials_file=credentials_file, videos=videos).start()
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():  # signals only work there
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    print(f"simulator listening on {server.url}", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
            pass
    finally:
        server.stop()
