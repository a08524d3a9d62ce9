"""Access and refresh tokens: JWTs signed with HS256.

Both carry the user id and the user's token version; changing the password or disabling
the user bumps the version, so every token issued before stops working (refresh tokens
included) without a server-side token list.
"""

import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Literal

import jwt

from app.db_roles import ensure_password
from app.errors import Unauthorized
from app.settings import get_settings

ALGORITHM = "HS256"
ISSUER = "riskatlas"
TokenKind = Literal["access", "refresh"]


@cache
def signing_key() -> str:
    """RISKATLAS_JWT_SECRET, else a key generated once under data_dir/secrets."""
    settings = get_settings()
    if settings.jwt_secret:
        return settings.jwt_secret
    return ensure_password(settings.data_dir, "jwt-signing-key")


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    user_id: int
    token_version: int
    kind: TokenKind


def issue(user_id: int, token_version: int, kind: TokenKind) -> tuple[str, int]:
    """(token, seconds until it expires)."""
    settings = get_settings()
    lifetime = (
        settings.access_token_minutes * 60
        if kind == "access"
        else settings.refresh_token_days * 86_400
    )
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "tv": token_version,
        "typ": kind,
        "iss": ISSUER,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), lifetime


def verify(token: str, kind: TokenKind, *, field: str = "Authorization") -> TokenClaims:
    """Check signature, expiry and kind; 401 naming `field` otherwise."""
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "typ", "tv"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized(f"the {kind} token has expired", field=field) from error
    except jwt.PyJWTError as error:
        raise Unauthorized(f"not a valid {kind} token", field=field) from error
    if (
        claims.get("typ") != kind
        or not str(claims["sub"]).isdigit()
        or not isinstance(claims["tv"], int)
    ):
        raise Unauthorized(f"not a valid {kind} token", field=field)
    return TokenClaims(int(claims["sub"]), claims["tv"], kind)
