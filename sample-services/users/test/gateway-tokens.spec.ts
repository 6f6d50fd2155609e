/**
 * Tokens from the gateway's development issuer (`devstack token`, POST /oauth/token): ES256, signed with
 * the key the gateway publishes at GATEWAY_URL/.well-known/jwks.json. The service verifies them against
 * that JWKS (a real HTTP server here), besides its own HS256 login tokens.
 */
import { JwtService } from '@nestjs/jwt';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, JWK, KeyLike, SignJWT } from 'jose';
import { AuthService } from '../src/auth/auth.service';
import { loadConfig } from '../src/config/configuration';

interface Signer {
  kid: string;
  priv: KeyLike;
  jwk: JWK;
}

async function newSigner(kid: string, alg = 'ES256'): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, priv: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function sign(s: Signer, claims: Record<string, unknown>, opts: { iss?: string; aud?: string; sub?: string; exp?: string | number } = {}) {
  let t = new SignJWT(claims)
    .setProtectedHeader({ alg: s.jwk.alg as string, kid: s.kid, typ: 'JWT' })
    .setIssuedAt()
    .setIssuer(opts.iss ?? 'devstack')
    .setAudience(opts.aud ?? 'devstack')
    .setSubject(opts.sub ?? 'alice')
    .setExpirationTime(opts.exp ?? '1h');
  return t.sign(s.priv);
}

describe('AuthService with the gateway JWKS', () => {
  let server: Server;
  let published: JWK[] = [];
  let fetches = 0;
  let status = 200;
  let url = '';
  const secret = 'test-secret-test-secret-test-secret';

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      fetches++;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function service(env: Record<string, string> = {}) {
    const config = loadConfig({ DATABASE_URL: 'postgres://unused', JWT_SECRET: secret, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1', GATEWAY_URL: url, ...env });
    return new AuthService(new JwtService({ secret }), config);
  }

  it('accepts a dev issuer token (ES256, kid from the JWKS) and still its own HS256 tokens', async () => {
    const k = await newSigner('k1');
    published = [k.jwk];
    const auth = service();
    await expect(auth.verify(await sign(k, { scope: 'orders:read orders:write' }))).resolves.toMatchObject({
      sub: 'alice',
      scope: 'orders:read orders:write',
    });
    const own = await auth.issue('user-1', 'a@example.com');
    await expect(auth.verify(own.accessToken)).resolves.toMatchObject({ sub: 'user-1' });
  });

  it('caches the keys and refetches once for an unknown kid (a restarted gateway with a new key)', async () => {
    const k1 = await newSigner('k1');
    published = [k1.jwk];
    const auth = service({ JWKS_COOLDOWN_MS: '0' });
    fetches = 0;
    for (let i = 0; i < 3; i++) await auth.verify(await sign(k1, {}));
    expect(fetches).toBe(1);
    const k2 = await newSigner('k2');
    published = [k1.jwk, k2.jwk];
    await expect(auth.verify(await sign(k2, { scope: 'profile' }))).resolves.toMatchObject({ scope: 'profile' });
    expect(fetches).toBe(2);
  });

  it.each([
    ['another issuer', async (k: Signer) => sign(k, {}, { iss: 'evil' })],
    ['another audience', async (k: Signer) => sign(k, {}, { aud: 'other' })],
    ['an expired token', async (k: Signer) => sign(k, {}, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ['a key the gateway does not publish', async () => sign(await newSigner('k1'), {})],
    ['an unknown kid', async () => sign(await newSigner('nope'), {})],
    ['a token without kid', async () => {
      const other = await newSigner('x');
      return new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer('devstack').setAudience('devstack')
        .setSubject('u').setExpirationTime('1h').sign(other.priv);
    }],
    ['an HS256 token signed with the published public key (alg confusion)', async (k: Signer) =>
      new JwtService({ secret: JSON.stringify(k.jwk) }).signAsync({}, { subject: 'u', issuer: 'devstack', audience: 'devstack', keyid: 'k1' })],
  ])('rejects %s', async (_name, make) => {
    const k = await newSigner('k1');
    published = [k.jwk];
    await expect(service({ JWKS_COOLDOWN_MS: '0' }).verify(await make(k))).rejects.toThrow();
  });

  it('says why a dev issuer token is refused when GATEWAY_URL is not set', async () => {
    const k = await newSigner('k1');
    const config = loadConfig({ DATABASE_URL: 'postgres://unused', JWT_SECRET: secret, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
    const auth = new AuthService(new JwtService({ secret }), config);
    await expect(auth.verify(await sign(k, {}))).rejects.toThrow(/GATEWAY_URL is not set/);
  });

  it('says where the JWKS could not be fetched', async () => {
    const k = await newSigner('k1');
    published = [k.jwk];
    status = 503;
    try {
      await expect(service().verify(await sign(k, {}))).rejects.toThrow(`at ${url}/.well-known/jwks.json`);
    } finally {
      status = 200;
    }
  });
});
