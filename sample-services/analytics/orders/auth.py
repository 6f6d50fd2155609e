"""Authentication from the gateway's headers.

devstack's gateway verifies the bearer token, strips any client-sent X-Auth-* headers and adds
X-Auth-Subject (the token's sub) and X-Auth-Scopes (space-separated). Analytics trusts those, as an
internal service behind an API gateway does; the service listens on 127.0.0.1 only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from rest_framework import authentication, permissions


@dataclass(frozen=True)
class GatewayPrincipal:
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    is_authenticated = True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def principal_from_headers(subject: str | None, scopes: str | None) -> GatewayPrincipal | None:
    if not subject:
        return None
    return GatewayPrincipal(subject=subject, scopes=frozenset((scopes or "").split()))


class GatewayAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        p = principal_from_headers(request.headers.get("X-Auth-Subject"), request.headers.get("X-Auth-Scopes"))
        return (p, None) if p else None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="devstack"'


class HasAnalyticsScope(permissions.BasePermission):
    message = f"token lacks scope {settings.ANALYTICS_SCOPE}"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return isinstance(user, GatewayPrincipal) and user.has_scope(settings.ANALYTICS_SCOPE)
