"""A real HTTPS-style git remote for tests: ``git http-backend`` (CGI) behind Basic auth on
127.0.0.1, so clients must present the token exactly as a forge (GitHub, GitLab) expects."""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.recording import serving

BACKEND = str(
    Path(
        subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    / "git-http-backend"
)


@contextlib.contextmanager
def git_http_server(
    root: Path, *, user: str, token: str, tls: tuple[Path, Path] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Serve the bare repositories under ``root``; yields (base URL, Authorization headers seen).
    With ``tls`` (certificate, key), over HTTPS."""
    expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _cgi(self) -> None:
            auth = self.headers.get("Authorization", "")
            seen.append(auth)
            if auth != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                **os.environ,
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": user,
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            out = subprocess.run(
                [BACKEND], input=body, env=env, capture_output=True, check=False
            ).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _cgi  # noqa: N815 - http.server names

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    with serving(server, poll_interval=0.05) as port:
        yield f"{scheme}://127.0.0.1:{port}/", seen
