"""Kraken's request signature (API-Sign), written from the published algorithm, nothing shared with clients.

API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + post_body))).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def decode_secret(secret: str) -> bytes:
    """The HMAC key behind a base64 API secret; ValueError when the secret is not valid base64."""
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("API secret is not valid base64") from exc


def signature_digest(secret_bytes: bytes, path: bytes, nonce: bytes, body: bytes) -> bytes:
    """Raw 64-byte HMAC-SHA512 digest over path + SHA256(nonce + body)."""
    return hmac.digest(secret_bytes, path + hashlib.sha256(nonce + body).digest(), "sha512")


def sign(secret: str, path: str, nonce: str, body: str | bytes) -> str:
    """The API-Sign header value for a request (used by tests, the benchmark and documentation)."""
    raw_body = body.encode() if isinstance(body, str) else body
    digest = signature_digest(decode_secret(secret), path.encode(), nonce.encode(), raw_body)
    return base64.b64encode(digest).decode()


def verify(secret_bytes: bytes, path: bytes, nonce: bytes, body: bytes, api_sign: str) -> bool:
    """True when `api_sign` is the valid base64 signature of this request (constant-time compare)."""
    try:  # strict base64, validated in C (b64decode(validate=True) runs a regex per call)
        given = binascii.a2b_base64(api_sign.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):  # ValueError also covers non-ASCII text
        return False
    return hmac.compare_digest(given, signature_digest(secret_bytes, path, nonce, body))
