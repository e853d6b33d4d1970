"""Where a homeserver is: what a user typed made into a URL, or found from their user id.

- `homeserver_url("matrix.example.org")` assumes https; a loopback host ("127.0.0.1:8008",
  "localhost:8008", "[::1]:8008") assumes http, as a homeserver on your own machine has no
  certificate.
- `discover_homeserver("@alice:example.org")` reads `https://example.org/.well-known/matrix/client`
  (the spec's client discovery) and checks that the URL it names answers as a homeserver; without
  a .well-known, the server name itself is tried.

Blocking (urllib); callers on an event loop run it in a thread. No nio, no UI.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT = 10.0
MAX_BYTES = 64 * 1024


class DiscoveryError(Exception):
    """The homeserver could not be found; the message says what to do instead."""


def _host(server: str) -> str:
    """The host part of "host", "host:port" or "[v6]:port"."""
    if server.startswith("["):
        return server[1:].split("]", 1)[0]
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server


def is_loopback(server: str) -> bool:
    host = _host(server).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def homeserver_url(text: str) -> str:
    """A homeserver URL from what the user typed (scheme added when missing, no trailing /)."""
    text = text.strip().rstrip("/")
    if not text or "://" in text:
        return text
    return ("http://" if is_loopback(text.split("/", 1)[0]) else "https://") + text


def server_name(user_id: str) -> str | None:
    """"example.org" from "@alice:example.org" (None for a bare user name)."""
    if not user_id.startswith("@") or ":" not in user_id:
        return None
    name = user_id.split(":", 1)[1]
    return name or None


def _get_json(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "tui-client"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) only
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError("response too large")
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _answers(base_url: str) -> bool:
    try:
        return isinstance(_get_json(f"{base_url}/_matrix/client/versions").get("versions"), list)
    except (OSError, ValueError):
        return False


def discover_homeserver(user_id_or_server: str) -> str:
    """The base URL of the homeserver for a user id (or a server name), or DiscoveryError."""
    server = server_name(user_id_or_server) if user_id_or_server.startswith("@") else user_id_or_server
    if not server:
        raise DiscoveryError(
            f"{user_id_or_server!r} names no server: give the homeserver URL, or your full user id "
            "(@name:server) to look it up"
        )
    origin = homeserver_url(server)
    tried = [origin]
    try:
        well_known = _get_json(f"{origin}/.well-known/matrix/client")
    except (OSError, ValueError):
        well_known = {}
    base = (well_known.get("m.homeserver") or {}).get("base_url") if isinstance(well_known.get("m.homeserver"), dict) else None
    if isinstance(base, str) and urlsplit(base).scheme in ("http", "https"):
        base = base.rstrip("/")
        if _answers(base):
            return base
        raise DiscoveryError(
            f"{server}'s .well-known names {base} as its homeserver, but it does not answer; "
            "try again later, or give the homeserver URL"
        )
    if _answers(origin):
        return origin
    raise DiscoveryError(
        f"could not find the homeserver of {server} (tried {', '.join(tried)}); give its URL"
    )


__all__ = ["DiscoveryError", "discover_homeserver", "homeserver_url", "is_loopback", "server_name"]
