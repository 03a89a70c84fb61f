"""The http import's client on its own, against small servers on 127.0.0.1: signing, no
redirects, deadlines, and how each failure maps onto the WIT http-error cases."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from crosswatch_trakt_wasm.config import Credentials
from crosswatch_trakt_wasm.imports import HttpBroker, HttpFault, SharedCredentials
from crosswatch_trakt_wasm.policy import Limits, Origin, Policy


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        Handler.seen.append((self.command, self.path, dict(self.headers.items())))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "https://evil.example/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            time.sleep(1.0)
            self._ok(b"late")
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"short")
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"ok")
            self.close_connection = True
        else:
            self._ok(b'{"hello":"world"}', [("X-Pagination-Page-Count", "3")])

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        Handler.seen.append((self.command, self.path, dict(self.headers.items()), body))
        self._ok(body)

    def _ok(self, body: bytes, headers=()):
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def broker(api: str, oauth: str | None = None, cap: float = 120.0) -> HttpBroker:
    policy = Policy(Origin.parse(api), Origin.parse(oauth or api), Limits(http_timeout_cap_secs=cap))
    creds = SharedCredentials(Credentials("cid", "secret", "tok-1234", "ref", 0))
    return HttpBroker(policy, creds)


def test_api_requests_are_signed_and_the_plugins_auth_headers_replaced(server):
    b = broker(server)
    r = b.send("GET", server + "/sync/x?page=1", [("Authorization", "Bearer stolen"), ("TRAKT-API-KEY", "other")], b"", 0)
    assert r.status == 200 and r.body == b'{"hello":"world"}'
    assert ("x-pagination-page-count", "3") in r.headers, "names lowercased"
    _, path, headers = Handler.seen[-1]
    h = {k.lower(): v for k, v in headers.items()}
    assert path == "/sync/x?page=1"
    assert h["authorization"] == "Bearer tok-1234" and h["trakt-api-key"] == "cid"
    assert h["trakt-api-version"] == "2" and h["user-agent"].startswith("crosswatch-trakt-wasm/")


def test_oauth_origin_requests_are_not_signed(server):
    b = broker("https://api.trakt.tv", oauth=server)
    r = b.send("POST", server + "/oauth/token", [("Content-Type", "application/json")], b'{"a":1}', 0)
    assert r.status == 200 and r.body == b'{"a":1}'
    h = {k.lower(): v for k, v in Handler.seen[-1][2].items()}
    assert "authorization" not in h and "trakt-api-key" not in h


def test_redirects_are_returned_not_followed(server):
    r = broker(server).send("GET", server + "/redirect", [], b"", 0)
    assert r.status == 302 and ("location", "https://evil.example/") in r.headers


def test_denied_timeout_connect_and_truncation_map_to_their_cases(server):
    b = broker(server, cap=0.3)
    with pytest.raises(HttpFault) as e:
        b.send("GET", "https://evil.example/x", [], b"", 0)
    assert e.value.kind == "denied" and "refused by host policy" in e.value.message
    t = time.monotonic()
    with pytest.raises(HttpFault) as e:
        b.send("GET", server + "/slow", [], b"", 5000)  # the host's cap (0.3 s) wins
    assert e.value.kind == "timeout" and time.monotonic() - t < 0.9
    with pytest.raises(HttpFault) as e:
        b.send("GET", server + "/truncated", [], b"", 0)
    assert e.value.kind == "connection-lost", e.value
    with pytest.raises(HttpFault) as e:
        b.send("GET ME", server + "/", [], b"", 0)
    assert e.value.kind == "invalid-request"
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    closed = f"http://127.0.0.1:{port}"
    with pytest.raises(HttpFault) as e:
        broker(closed).send("GET", closed + "/", [], b"", 0)
    assert e.value.kind == "connect" and "refused" in e.value.message


def test_kept_alive_connections_are_reused_and_closed_ones_replaced(server):
    b = broker(server)
    for _ in range(3):
        assert b.send("GET", server + "/a", [], b"", 0).status == 200
    assert len(b._pool) == 1
    assert b.send("GET", server + "/close", [], b"", 0).status == 200
    assert b._pool == {}, "a connection the server closes is not kept"
    assert b.send("GET", server + "/a", [], b"", 0).status == 200


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_an_untrusted_certificate_is_a_tls_error(tmp_path):
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True,
        capture_output=True,
    )
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{srv.server_address[1]}"
    try:
        with pytest.raises(HttpFault) as e:
            broker(url, cap=5).send("GET", url + "/", [], b"", 0)
        assert e.value.kind == "tls", e.value
    finally:
        srv.shutdown()
        srv.server_close()
