"""Talking to our private Synapse over HTTP: JSON requests, shared-secret registration, login.

No proxies (urllib would otherwise honour http_proxy even for 127.0.0.1), no dependencies beyond
the standard library: the demo and the tests use this before any Matrix client exists.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from .install import HomeserverError

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(
    base_url: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, Any]]:
    """One JSON request to the server; returns (HTTP status, decoded body) even for errors."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    req = urllib.request.Request(base_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with OPENER.open(req, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except OSError as err:
        raise HomeserverError(f"{method} {base_url}{path} failed: {err}") from err
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {"body": raw[:200].decode("utf-8", errors="replace")}
    return status, decoded if isinstance(decoded, dict) else {"body": decoded}


def answers_versions(base_url: str) -> bool:
    """Whether the client API is up (GET /_matrix/client/versions answers 200)."""
    try:
        with OPENER.open(base_url + "/_matrix/client/versions", timeout=2.0) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def register(
    base_url: str,
    shared_secret: str,
    server_name: str,
    localpart: str,
    password: str,
    *,
    admin: bool,
    displayname: str | None = None,
) -> tuple[str, bool]:
    """Register through Synapse's shared-secret admin API: (user id, whether it was created).

    An existing user is not an error: its id comes back with ``False``.
    """
    user_id = f"@{localpart}:{server_name}"
    status, body = request(base_url, "GET", "/_synapse/admin/v1/register")
    nonce = body.get("nonce")
    if status != 200 or not isinstance(nonce, str):
        raise HomeserverError(f"could not get a registration nonce: HTTP {status} {body}")
    mac = hmac.new(shared_secret.encode("utf-8"), digestmod=hashlib.sha1)
    for part in (nonce, localpart, password):
        mac.update(part.encode("utf-8"))
        mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    payload: dict[str, Any] = {
        "nonce": nonce,
        "username": localpart,
        "password": password,
        "admin": admin,
        "mac": mac.hexdigest(),
    }
    if displayname is not None:
        payload["displayname"] = displayname
    status, body = request(base_url, "POST", "/_synapse/admin/v1/register", payload)
    if status == 200:
        return str(body.get("user_id", user_id)), True
    if body.get("errcode") == "M_USER_IN_USE":
        return user_id, False
    raise HomeserverError(f"registering {user_id} failed: HTTP {status} {body}")


def login(base_url: str, localpart: str, password: str) -> str:
    """Log in with a password and return the access token."""
    status, body = request(
        base_url,
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
            "initial_device_display_name": "tui_client homeserver admin",
        },
    )
    token = body.get("access_token")
    if status != 200 or not isinstance(token, str):
        raise HomeserverError(f"login as {localpart} failed: HTTP {status} {body}")
    return token
