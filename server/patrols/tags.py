"""QR tag content: ``FO1.<checkpoint id>.<signature>``, signed with a key derived from the server's.

The signature is a truncated HMAC-SHA256 (96 bits, base64url): short enough for a
small, robust QR code and for typing by hand, long enough that a hand-made or
edited tag cannot be guessed. Verification compares in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = "FO1"
_SIG_BYTES = 12
_TAG = re.compile(r"^FO1\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{16})$")


class BadTag(ValueError):
    """The content is not a tag this server signed."""


def tag_key(signing_key: str) -> bytes:
    # A derived key: a leaked tag key must not sign login tokens, and vice versa.
    return hmac.new(signing_key.encode(), b"fieldops/patrol-tags/v1", hashlib.sha256).digest()


def _signature(key: bytes, checkpoint_id: int) -> str:
    mac = hmac.new(key, f"{PREFIX}.{checkpoint_id}".encode(), hashlib.sha256).digest()[:_SIG_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_tag(key: bytes, checkpoint_id: int) -> str:
    """The content printed in a checkpoint's QR code."""
    return f"{PREFIX}.{checkpoint_id}.{_signature(key, checkpoint_id)}"


def verify_tag(key: bytes, content: str) -> int:
    """The checkpoint id a genuine tag names; raises BadTag for anything else."""
    match = _TAG.match(content.strip())
    if match is None:
        raise BadTag("not a fieldops checkpoint tag")
    checkpoint_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _signature(key, checkpoint_id)):
        raise BadTag("the tag's signature is wrong (forged or edited)")
    return checkpoint_id
