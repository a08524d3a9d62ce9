"""Password hashing: argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash with its own salt and parameters."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches the stored hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist, so a wrong username takes as
# long as a wrong password (no account enumeration by timing).
@cache
def decoy_hash() -> str:
    """A valid hash of a random password."""
    return hash_password(secrets.token_urlsafe(16))
