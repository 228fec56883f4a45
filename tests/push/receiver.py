"""A push service in the test: checks the VAPID JWT and decrypts the body like a browser would.

Plain asyncio HTTP/1.1 on 127.0.0.1 (one request per connection). Each subscription it
hands out has a P-256 key pair and auth secret made here, so only a correctly encrypted
body decrypts. Answers can be scripted per request (500, 410, 429 with Retry-After …);
unscripted requests get 201 when they verify and 400 naming the fault when they do not.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.push.keys import b64url, b64url_decode


@dataclass
class ReceivedPush:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what we answered
    claims: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    problem: str | None = None  # why it did not verify


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Subscriber:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes


class PushReceiver:
    def __init__(self, vapid_public_key: str) -> None:
        self.vapid_public_key = vapid_public_key
        self.received: list[ReceivedPush] = []
        self.script: list[Reply] = []  # answers for the next requests, in order
        self._subscribers: dict[str, _Subscriber] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def subscription(self) -> dict[str, Any]:
        """A new subscription as the browser's PushSubscription.toJSON() gives it."""
        path = f"/push/{len(self._subscribers) + 1}"
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self._subscribers[path] = _Subscriber(key, auth)
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": self.origin + path, "keys": {"p256dh": b64url(point), "auth": b64url(auth)}}

    def accepted(self) -> list[ReceivedPush]:
        return [r for r in self.received if r.status == 201]

    # --- checking one request ---------------------------------------------------------

    def _verify(self, push: ReceivedPush) -> None:
        """Fill claims and payload, or raise ValueError saying what is wrong."""
        h = push.headers
        if h.get("content-encoding") != "aes128gcm":
            raise ValueError(f"Content-Encoding is {h.get('content-encoding')!r}")
        if h.get("content-type") != "application/octet-stream":
            raise ValueError(f"Content-Type is {h.get('content-type')!r}")
        if not h.get("ttl", "").isdigit():
            raise ValueError("TTL header missing or not a number")
        scheme, _, params = h.get("authorization", "").partition(" ")
        if scheme != "vapid":
            raise ValueError("Authorization is not 'vapid t=…, k=…'")
        fields = dict(p.strip().split("=", 1) for p in params.split(","))
        if fields.get("k") != self.vapid_public_key:
            raise ValueError("k is not the server's VAPID public key")
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(fields["k"]))
        try:
            # ES256 signature, and `aud` must be our origin *with* the port (RFC 8292 §2).
            claims = jwt.decode(fields["t"], public_key, algorithms=["ES256"], audience=self.origin,
                                options={"require": ["aud", "exp", "sub"]})
        except jwt.PyJWTError as exc:
            raise ValueError(f"VAPID JWT rejected: {exc}") from None
        if claims["exp"] > time.time() + 24 * 3600:
            raise ValueError("VAPID JWT exp is more than 24 h ahead")
        sub = claims["sub"]
        if not (sub.startswith(("mailto:", "https:"))) or sub.startswith("mailto:mailto:"):
            raise ValueError(f"VAPID sub {sub!r} is not a mailto: or https: contact")
        push.claims = claims
        subscriber = self._subscribers.get(push.path)
        if subscriber is None:
            raise ValueError(f"no subscription at {push.path}")
        try:
            plain = http_ece.decrypt(push.body, private_key=subscriber.private_key,
                                     auth_secret=subscriber.auth, version="aes128gcm")
        except Exception as exc:  # http_ece raises several types for a bad body
            raise ValueError(f"cannot decrypt: {exc!r}") from None
        push.payload = json.loads(plain)

    # --- HTTP ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            push = ReceivedPush(path=path, headers=headers, body=body, status=0)
            reply = self.script.pop(0) if self.script else None
            try:
                self._verify(push)
            except (ValueError, KeyError) as exc:
                push.problem = str(exc)
            if method != "POST":
                push.problem = f"method {method}"
            if reply is None:
                reply = Reply(201) if push.problem is None else Reply(400)
            push.status = reply.status
            self.received.append(push)
            text = json.dumps({"error": push.problem}) if reply.status == 400 else ""
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\ncontent-length: {len(text)}\r\n{extra}"
                f"connection: close\r\n\r\n{text}".encode())
            await writer.drain()
        finally:
            writer.close()
