"""Bearer tokens for the tests: users' HS256 login tokens and the gateway dev issuer's ES256 tokens,
served from a real JWKS endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

SECRET = "analytics-test-secret-analytics-test-secret"
JWT = {"SECRET": SECRET, "ISSUER": "devstack", "AUDIENCE": "devstack", "JWKS_URL": "", "JWKS_COOLDOWN": 0.0}


def hs256(scope: str = "analytics:read", sub: str = "e2e", secret: str = SECRET, **claims) -> str:
    now = int(time.time())
    body = {"sub": sub, "scope": scope, "iss": "devstack", "aud": "devstack", "iat": now, "exp": now + 600}
    body.update(claims)
    return jwt.encode(body, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


class Signer:
    """An ES256 key as the gateway's dev issuer has one."""

    def __init__(self, kid: str):
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = {**json.loads(ECAlgorithm.to_jwk(self.key.public_key())), "kid": kid, "alg": "ES256", "use": "sig"}

    def sign(self, scope: str = "analytics:read", sub: str = "e2e", **claims) -> str:
        now = int(time.time())
        body = {"sub": sub, "scope": scope, "iss": "devstack", "aud": "devstack", "iat": now, "exp": now + 600}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="ES256", headers={"kid": self.kid})


class JWKSServer:
    """GET /.well-known/jwks.json on a free loopback port; counts fetches."""

    def __init__(self):
        self.keys: list[dict] = []
        self.fetches = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
