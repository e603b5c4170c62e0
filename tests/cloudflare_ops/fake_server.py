"""The fake Cloudflare API on a loopback port, for code in another process (a notebook kernel):
point the SDK at it with ``CLOUDFLARE_BASE_URL``."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from .fake_cloudflare import FakeCloudflare


@contextmanager
def serve(fake: FakeCloudflare) -> Iterator[str]:
    """Serves ``fake`` on 127.0.0.1 until the block ends; yields the base URL (…/client/v4)."""

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = httpx.Request(self.command, f"http://{self.headers['host']}{self.path}",
                                    headers=dict(self.headers.items()), content=self.rfile.read(length))
            response = fake.handle(request)
            body = response.content
            self.send_response(response.status_code)
            self.send_header("content-type", response.headers.get("content-type", "application/json"))
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/client/v4"
    finally:
        server.shutdown()
        server.server_close()
