"""The server's VAPID key pair (RFC 8292): made once, stored, shared by every server process."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert_insert, utcnow
from server.push.models import VapidKey

# A contact the push services may write to about our traffic. Pass a real one to
# ensure_vapid_key in production; some services reject example/localhost domains.
DEFAULT_SUBJECT = "mailto:fieldops@example.com"
_KEY_ROW_ID = 1  # one key per installation


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeyPair:
    private_key_pem: str
    public_key: str  # applicationServerKey: base64url of the uncompressed P-256 point
    subject: str

    @cached_property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    @cached_property
    def public_key_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key_pair(subject: str = DEFAULT_SUBJECT) -> VapidKeyPair:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    point = private.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
    return VapidKeyPair(private_key_pem=pem, public_key=b64url(point), subject=subject)


async def ensure_vapid_key(session: AsyncSession, subject: str = DEFAULT_SUBJECT) -> VapidKeyPair:
    """The stored key pair, generating and storing one if there is none yet.

    Race-safe across processes: each candidate is inserted with ON CONFLICT DO NOTHING
    on the fixed id and everyone then reads the row that won. Runs in the caller's
    transaction; the caller commits. ``subject`` only applies to a newly made key.
    """
    row = await session.get(VapidKey, _KEY_ROW_ID)
    if row is None:
        candidate = generate_key_pair(subject)
        insert = upsert_insert(session)
        await session.execute(
            insert(VapidKey)
            .values(id=_KEY_ROW_ID, private_key_pem=candidate.private_key_pem,
                    public_key=candidate.public_key, subject=candidate.subject, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["id"])
        )
        row = await session.scalar(
            select(VapidKey).where(VapidKey.id == _KEY_ROW_ID).execution_options(populate_existing=True))
        assert row is not None
    return VapidKeyPair(private_key_pem=row.private_key_pem, public_key=row.public_key,
                        subject=row.subject)
