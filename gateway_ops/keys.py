"""Attendee user keys: the same HMAC-SHA256 construction the Worker verifies (worker/src/lib/crypto.ts).

key = unpadded base64url(HMAC-SHA256(key = secret's UTF-8 bytes, message = user id's UTF-8 bytes))

After ``attendees reissue`` the Worker accepts only the key of the user's new generation g ≥ 1,
whose message is ``"{user id}#{g}"`` (the admin API contract of issue 14); generation 0 is the
original key above. The secret never leaves this machine: the Worker returns only g.
"""
import base64
import hashlib
import hmac


def user_key(secret: str, user_id: str, generation: int = 0) -> str:
    """The ``X-User-Key`` for ``user_id`` (of ``generation``; 0: the original key); the Worker's
    ``userKeyFor`` gives the same bytes."""
    if generation < 0:
        raise ValueError(f"a key generation is 0 or more, got {generation}")
    message = user_id if generation == 0 else f"{user_id}#{generation}"
    mac = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
