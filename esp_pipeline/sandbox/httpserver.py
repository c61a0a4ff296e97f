"""Run a sandbox WSGI app on a loopback port in a background thread."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

log = logging.getLogger(__name__)
# Werkzeug logs every request at INFO; the sandboxes keep their own request log instead.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class SandboxServer:
    """A threaded Werkzeug server bound to 127.0.0.1; port 0 picks a free port.

    Use it as a context manager, or call start() and stop().
    """

    def __init__(
        self,
        app,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        poll_interval: float = 0.05,
    ) -> None:
        self.app = app
        # Seconds between shutdown checks; stop() waits up to this long, so tests that start
        # many servers stay fast.
        self.poll_interval = poll_interval
        self.name = name
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"sandbox-{self.name}",
            daemon=True,
        )
        self._thread.start()
        log.info("sandbox %s listening on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        log.info("sandbox %s stopped", self.name)

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for the command line)."""
        self._server.serve_forever(poll_interval=self.poll_interval)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
