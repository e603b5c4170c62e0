"""Attendee user keys: the same HMAC-SHA256 construction the Worker verifies (worker/src/lib/crypto.ts).

key = unpadded base64url(HMAC-SHA256(key = secret's UTF-8 bytes, message = user id's UTF-8 bytes))
"""
import base64
import hashlib
import hmac


def user_key(secret: str, user_id: str) -> str:
    """The ``X-User-Key`` for ``user_id``; the Worker's ``userKeyFor`` gives the same bytes."""
    mac = hmac.new(secret.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
