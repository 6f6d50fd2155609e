"""Authentication: analytics verifies the bearer token itself.

devstack's gateway verifies the token too, strips client-sent X-Auth-* headers and adds X-Auth-Subject
and X-Auth-Scopes, but analytics' port can be reached without the gateway, so those headers prove
nothing here. Like the gateway, analytics accepts users' HS256 login tokens (JWT_SECRET) and the
tokens of the gateway's development issuer (`devstack token`, POST /oauth/token), whose keys it reads
from the gateway's JWKS (GATEWAY_URL/.well-known/jwks.json; cached, refetched for an unknown kid).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jwt
from django.conf import settings
from rest_framework import authentication, exceptions, permissions

# The gateway's keys sign with these; asymmetric only, so a public key can never act as an HMAC secret.
GATEWAY_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"]


class TokenError(Exception):
    """The token is malformed, expired, badly signed or meant for someone else."""


@dataclass(frozen=True)
class GatewayPrincipal:
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    is_authenticated = True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class TokenVerifier:
    def __init__(self, secret: str, issuer: str, audience: str, jwks_url: str, jwks_cooldown: float):
        self.secret, self.issuer, self.audience, self.jwks_url = secret, issuer, audience, jwks_url
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, cooldown_duration=jwks_cooldown, timeout=5) if jwks_url else None

    def _decode(self, token: str, key, algorithms: list[str]) -> dict:
        return jwt.decode(
            token, key, algorithms=algorithms, issuer=self.issuer, audience=self.audience,
            options={"require": ["sub", "exp"]},
        )

    def verify(self, token: str) -> dict:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
            if alg == "HS256":
                if not self.secret:
                    raise TokenError("an HS256 token, but JWT_SECRET is not set (devstack.yaml passes it to analytics)")
                return self._decode(token, self.secret, ["HS256"])
            if alg not in GATEWAY_ALGORITHMS:
                raise TokenError(f"algorithm {alg} is not accepted (HS256 login tokens or the gateway's {'/'.join(GATEWAY_ALGORITHMS)})")
            if self.jwks is None:
                raise TokenError(f"a {alg} token is checked against the gateway's keys, but GATEWAY_URL is not set (devstack sets it)")
            try:
                key = self.jwks.get_signing_key_from_jwt(token)
            except jwt.PyJWKClientError as e:
                raise TokenError(f"no gateway key for this token at {self.jwks_url}: {e}") from e
            return self._decode(token, key, GATEWAY_ALGORITHMS)
        except jwt.PyJWTError as e:
            raise TokenError(str(e)) from e


@functools.lru_cache(maxsize=4)
def _verifier(secret: str, issuer: str, audience: str, jwks_url: str, jwks_cooldown: float) -> TokenVerifier:
    return TokenVerifier(secret, issuer, audience, jwks_url, jwks_cooldown)


def verifier() -> TokenVerifier:
    """The verifier for the current settings (one per configuration, so its key cache lives on)."""
    c = settings.JWT
    return _verifier(c["SECRET"], c["ISSUER"], c["AUDIENCE"], c["JWKS_URL"], float(c["JWKS_COOLDOWN"]))


def bearer_token(authorization: str | None) -> str | None:
    kind, _, token = (authorization or "").partition(" ")
    return token.strip() or None if kind.lower() == "bearer" else None


def principal_from_token(token: str) -> GatewayPrincipal:
    """Raises TokenError when the token does not verify."""
    claims = verifier().verify(token)
    scope = claims.get("scope")
    return GatewayPrincipal(subject=str(claims["sub"]), scopes=frozenset(scope.split() if isinstance(scope, str) else ()))


class BearerAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return None
        try:
            return (principal_from_token(token), token)
        except TokenError as e:
            raise exceptions.AuthenticationFailed(f"invalid token: {e}") from e

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="devstack"'


class HasAnalyticsScope(permissions.BasePermission):
    message = f"token lacks scope {settings.ANALYTICS_SCOPE}"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return isinstance(user, GatewayPrincipal) and user.has_scope(settings.ANALYTICS_SCOPE)
