"""`tandem serve` as it runs in production: waitress (one process) or gunicorn (``--workers``
above 1) in a subprocess, spoken to over raw sockets.

Django's test client strips HEAD bodies itself, so HTTP framing is tested against the real
server: these tests start ``tandem serve`` on a free port with a throw-away TANDEM_VAR_DIR.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


# One waitress process, and gunicorn's master with two server processes.
STOP_TIMEOUT = 30  # seconds: well above tandem serve's graceful stop under gunicorn (10 s)
WORKERS = pytest.mark.parametrize("workers", [1, 2], ids=["waitress", "gunicorn"])


@contextmanager
def serving(var_dir: Path, workers: int = 1, **env: str) -> Iterator[int]:
    """Run ``tandem serve`` until "serving at" appears; yield its port; stop it afterwards."""
    port = free_port()
    argv = ["serve", "--port", str(port), "--threads", "2", "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tandem", *argv],
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
        try:
            # gunicorn's master gives its workers up to GRACEFUL_STOP_SECONDS to finish, then
            # kills them: a stop took over 10 s (CI, 2026-12-05; then gunicorn's 30 s default)
            process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise


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


@WORKERS
def test_it_answers_head_with_headers_only_and_the_next_response_is_well_framed(tmp_path, workers):
    with serving(tmp_path, workers) as port:
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


@WORKERS
def test_it_says_in_one_line_that_the_port_is_in_use(tmp_path, workers):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "-m", "tandem", "serve", "--port", str(port)]
            + ["--workers", str(workers)],
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


@WORKERS
def test_in_production_behind_a_tls_proxy_it_redirects_to_https_and_sends_hsts(tmp_path, workers):
    with serving(tmp_path, workers, **PRODUCTION, TANDEM_BEHIND_TLS_PROXY="true") as port:
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


@WORKERS
def test_without_a_proxy_forwarded_headers_are_not_believed(tmp_path, workers):
    """A client cannot claim HTTPS (or another address) by sending X-Forwarded-* itself."""
    with serving(tmp_path, workers, **PRODUCTION) as port:
        conn = Connection(port)
        try:
            conn.send("GET", "/login/", "X-Forwarded-Proto: https\r\nX-Forwarded-For: 10.9.8.7\r\n")
            status, headers = conn.head()
            assert status.startswith("HTTP/1.1 301")  # still plain HTTP: redirected
            assert headers["location"] == "https://127.0.0.1/login/"
        finally:
            conn.close()


@pytest.mark.parametrize("trusted", [False, True])
def test_under_gunicorn_the_proxy_headers_are_read_as_waitress_reads_them(trusted, settings):
    from tandem.core import cli

    settings.CONFIG = {**settings.CONFIG, "TANDEM_BEHIND_TLS_PROXY": trusted}
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "HTTP_X_FORWARDED_FOR": "10.9.8.7, 192.0.2.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "evil.example",
    }
    cli._proxy_headers(app)(environ, lambda *a: None)

    assert "HTTP_X_FORWARDED_HOST" not in seen  # never trusted
    if trusted:  # the last hop is the client; the proxy said HTTPS
        assert seen["REMOTE_ADDR"] == "192.0.2.1"
        assert seen["wsgi.url_scheme"] == "https"
    else:
        assert seen["REMOTE_ADDR"] == "127.0.0.1"
        assert seen["wsgi.url_scheme"] == "http"
        assert "HTTP_X_FORWARDED_FOR" not in seen and "HTTP_X_FORWARDED_PROTO" not in seen


def test_with_several_workers_the_companions_run_once_and_ctrl_c_stops_it(tmp_path):
    """The jobs worker is a companion of the gunicorn master, not of each server process: on a
    database without tables it says once that background jobs are not running."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tandem", "serve", "--port", str(port), "--workers", "3"],
        cwd=ROOT,
        env=tandem_env(tmp_path, TANDEM_JOBS_WORKERS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "3 processes" in process.stdout.readline()
        conn = Connection(port)
        try:
            conn.send("GET", "/login/")
            status, _ = conn.head()
            assert status.startswith("HTTP/1.1 ")
        finally:
            conn.close()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=STOP_TIMEOUT)

    assert process.returncode == 0
    assert stderr.count("Background jobs are not running") == 1, stderr
