"""A plain HTTP file server on 127.0.0.1 (model storage for tests and benchmarks).

Serves a directory with the standard library's handler, quietly, on a port the OS picks, in
a thread; counts the GETs of each path so a test can tell what was pulled and how often.
"""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def serve_handler(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 until exit; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def files_handler(
    root: Path, gets: Counter[str] | None = None
) -> type[http.server.SimpleHTTPRequestHandler]:
    """A quiet handler serving `root`; each GET is counted in `gets` by path when given."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            if gets is not None:
                gets[self.path] += 1
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_files(root: Path, gets: Counter[str] | None = None) -> Iterator[str]:
    """Serve the files under `root` on 127.0.0.1 until exit; yields the base URL."""
    with serve_handler(files_handler(root, gets)) as url:
        yield url
