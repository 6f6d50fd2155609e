"""analytics verifies the bearer token itself: its port can be reached without the gateway, so the
gateway's X-Auth-* headers prove nothing. It accepts what the gateway accepts: users' HS256 tokens and
the gateway dev issuer's (devstack token, POST /oauth/token), checked against the gateway's JWKS."""

from django.test import SimpleTestCase, override_settings
from rest_framework.test import APIClient

from orders import auth
from orders.auth import TokenError, verifier

from . import tokens as tk


class Verify(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.jwks = tk.JWKSServer()

    @classmethod
    def tearDownClass(cls):
        cls.jwks.close()
        super().tearDownClass()

    def setUp(self):
        auth._verifier.cache_clear()  # a fresh key cache per test

    def settings_(self, **over):
        return override_settings(JWT={**tk.JWT, "JWKS_URL": self.jwks.url, **over})

    def test_accepts_both_kinds(self):
        k = tk.Signer("k1")
        self.jwks.keys = [k.jwk]
        with self.settings_():
            self.assertEqual(verifier().verify(k.sign(scope="analytics:read"))["scope"], "analytics:read")
            self.assertEqual(verifier().verify(tk.hs256(sub="u1"))["sub"], "u1")

    def test_caches_and_refetches_for_an_unknown_kid(self):
        k1 = tk.Signer("k1")
        self.jwks.keys = [k1.jwk]
        with self.settings_():
            self.jwks.fetches = 0
            for _ in range(3):
                verifier().verify(k1.sign())
            self.assertEqual(self.jwks.fetches, 1)
            k2 = tk.Signer("k2")
            self.jwks.keys = [k1.jwk, k2.jwk]
            self.assertEqual(verifier().verify(k2.sign(sub="new"))["sub"], "new")
            self.assertEqual(self.jwks.fetches, 2)

    def test_rejects(self):
        k = tk.Signer("k1")
        self.jwks.keys = [k.jwk]
        cases = [
            ("another issuer", lambda: k.sign(iss="evil")),
            ("another audience", lambda: k.sign(aud="other")),
            ("expired", lambda: k.sign(exp=1000)),
            ("a key the gateway does not publish", lambda: tk.Signer("k1").sign()),
            ("an unknown kid", lambda: tk.Signer("nope").sign()),
            ("HS256 with another secret", lambda: tk.hs256(secret="not-the-secret-not-the-secret-x")),
            ("alg none", lambda: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiaXNzIjoiZGV2c3RhY2siLCJhdWQiOiJkZXZzdGFjayJ9."),
            ("garbage", lambda: "not.a.jwt"),
        ]
        with self.settings_():
            for name, make in cases:
                with self.subTest(name), self.assertRaises(TokenError):
                    verifier().verify(make())

    def test_says_why(self):
        k = tk.Signer("k1")
        with self.settings_(JWKS_URL=""):
            with self.assertRaisesRegex(TokenError, "GATEWAY_URL is not set"):
                verifier().verify(k.sign())
        with self.settings_(SECRET=""):
            with self.assertRaisesRegex(TokenError, "JWT_SECRET is not set"):
                verifier().verify(tk.hs256())
        self.jwks.status = 503
        try:
            with self.settings_():
                with self.assertRaisesRegex(TokenError, "jwks.json"):
                    verifier().verify(k.sign())
        finally:
            self.jwks.status = 200


@override_settings(JWT=tk.JWT)
class ForgedHeaders(SimpleTestCase):
    def test_gateway_headers_alone_are_not_enough(self):
        forged = {"HTTP_X_AUTH_SUBJECT": "e2e", "HTTP_X_AUTH_SCOPES": "analytics:read"}
        r = APIClient().get("/api/analytics/dead-letters", **forged)
        self.assertEqual(r.status_code, 401)
