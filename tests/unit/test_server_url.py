"""Finding the homeserver: a typed address made into a URL, and .well-known discovery against a
real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tui_client.engine.server_url import DiscoveryError, discover_homeserver, homeserver_url, is_loopback


def test_typed_addresses():
    assert homeserver_url("127.0.0.1:8008") == "http://127.0.0.1:8008"
    assert homeserver_url("localhost:8008/") == "http://localhost:8008"
    assert homeserver_url("[::1]:8008") == "http://[::1]:8008"
    assert homeserver_url("matrix.example.org") == "https://matrix.example.org"
    assert homeserver_url(" https://matrix.example.org/ ") == "https://matrix.example.org"
    assert homeserver_url("http://10.0.0.5:8008") == "http://10.0.0.5:8008"
    assert not is_loopback("example.org") and is_loopback("127.0.0.2:1")


@pytest.fixture
def web() -> Iterator[tuple[str, dict]]:
    """A tiny web server on 127.0.0.1: `routes[path] = json`; returns (host:port, routes)."""
    routes: dict[str, object] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path not in routes:
                self.send_error(404)
                return
            body = json.dumps(routes[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()


def test_well_known_names_the_homeserver(web):
    hostport, routes = web
    routes["/.well-known/matrix/client"] = {"m.homeserver": {"base_url": f"http://{hostport}/matrix/"}}
    routes["/matrix/_matrix/client/versions"] = {"versions": ["v1.11"]}
    assert discover_homeserver(f"@alice:{hostport}") == f"http://{hostport}/matrix"


def test_without_well_known_the_server_name_is_tried(web):
    hostport, routes = web
    routes["/_matrix/client/versions"] = {"versions": ["v1.11"]}
    assert discover_homeserver(f"@alice:{hostport}") == f"http://{hostport}"


def test_nothing_found_says_what_to_do(web):
    hostport, routes = web
    with pytest.raises(DiscoveryError, match="could not find the homeserver of .*; give its URL"):
        discover_homeserver(f"@alice:{hostport}")
    routes["/.well-known/matrix/client"] = {"m.homeserver": {"base_url": "http://127.0.0.1:9"}}
    with pytest.raises(DiscoveryError, match="names http://127.0.0.1:9 as its homeserver, but it does not answer"):
        discover_homeserver(f"@alice:{hostport}")
    with pytest.raises(DiscoveryError, match="names no server"):
        discover_homeserver("@alice")
