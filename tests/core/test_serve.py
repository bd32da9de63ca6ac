"""`tandem serve` as it runs in production: waitress in a subprocess, spoken to over raw sockets.

Django's test client strips HEAD bodies itself, so HTTP framing is tested against the real
server: these tests start ``tandem serve`` on a free port with a throw-away TANDEM_VAR_DIR.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "TANDEM_ENV": "production",
    "TANDEM_SECRET_KEY": "s" * 50,
    "TANDEM_ALLOWED_HOSTS": "127.0.0.1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tandem_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TANDEM_", "DJANGO_"))
    }
    env.update({"TANDEM_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}, **extra)
    return env


@contextmanager
def serving(var_dir: Path, **env: str) -> Iterator[int]:
    """Run ``tandem serve`` until "serving at" appears; yield its port; stop it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tandem", "serve", "--port", str(port), "--threads", "2"],
        cwd=ROOT,
        env=tandem_env(var_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "serving at" in line, process.stderr.read() if process.stderr else line
        yield port
    finally:
        process.terminate()
        process.communicate(timeout=10)


class Connection:
    """One keep-alive HTTP/1.1 connection that reads responses exactly as framed."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, method: str, path: str, headers: str = "") -> None:
        request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n"
        self.sock.sendall(request.encode())

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        self.buffer += chunk

    def head(self) -> tuple[str, dict[str, str]]:
        """Status line and headers of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def body(self, length: int) -> bytes:
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def pending(self, wait: float = 0.5) -> bytes:
        """Whatever the server sends without being asked (nothing, for a well-framed reply)."""
        self.sock.settimeout(wait)
        try:
            self.buffer += self.sock.recv(65536)
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(10)
        return self.buffer

    def close(self) -> None:
        self.sock.close()


def test_it_answers_head_with_headers_only_and_the_next_response_is_well_framed(tmp_path):
    with serving(tmp_path) as port:
        conn = Connection(port)
        try:
            for path in ("/login/", "/no-such-page/"):
                conn.send("HEAD", path)
                head_status, head_headers = conn.head()
                assert conn.pending() == b"", f"HEAD {path} carried a body"

                conn.send("GET", path)
                get_status, get_headers = conn.head()
                assert get_status.startswith("HTTP/1.1 "), get_status
                assert get_status == head_status
                body = conn.body(int(get_headers["content-length"]))
                assert body.rstrip().endswith(b"</html>")
                # HEAD announces the length a GET would have.
                assert int(head_headers["content-length"]) == len(body)
        finally:
            conn.close()


def test_it_says_in_one_line_that_the_port_is_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "-m", "tandem", "serve", "--port", str(port)],
            cwd=ROOT,
            env=tandem_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 2
    assert result.stderr.startswith(f"tandem: error: port {port} on 127.0.0.1 is in use")
    assert result.stderr.strip().count("\n") == 0
    assert "serving at" not in result.stdout


def test_in_production_behind_a_tls_proxy_it_redirects_to_https_and_sends_hsts(tmp_path):
    with serving(tmp_path, **PRODUCTION, TANDEM_BEHIND_TLS_PROXY="true") as port:
        plain, tls = Connection(port), Connection(port)
        try:
            plain.send("GET", "/login/")
            status, headers = plain.head()
            assert status.startswith("HTTP/1.1 301")
            assert headers["location"] == "https://127.0.0.1/login/"

            tls.send("GET", "/login/", "X-Forwarded-Proto: https\r\n")
            status, headers = tls.head()
            assert status.startswith("HTTP/1.1 200")
            assert (
                headers["strict-transport-security"]
                == "max-age=31536000; includeSubDomains; preload"
            )
            assert "secure" in headers["set-cookie"].lower()
        finally:
            plain.close()
            tls.close()


def test_a_streamed_reply_to_head_keeps_its_length_and_loses_its_body():
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from tandem.core.lib.http import HeadWithoutBodyMiddleware

    def stream(request):
        return StreamingHttpResponse(iter([b"<!doctype html>", b"<p>hello</p>"]))

    response = HeadWithoutBodyMiddleware(stream)(RequestFactory().head("/"))

    assert response["Content-Length"] == str(len(b"<!doctype html><p>hello</p>"))
    assert b"".join(response.streaming_content) == b""
