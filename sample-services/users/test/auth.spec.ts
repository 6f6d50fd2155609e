import { JwtService } from '@nestjs/jwt';
import { AuthService } from '../src/auth/auth.service';
import { AppConfig, loadConfig } from '../src/config/configuration';

const secret = 'test-secret-test-secret-test-secret';
const config: AppConfig = loadConfig({ DATABASE_URL: 'postgres://unused', JWT_SECRET: secret, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
const jwt = new JwtService({ secret });
const auth = new AuthService(jwt, config);

describe('AuthService', () => {
  it('issues the token the gateway expects (HS256, iss/aud devstack, sub, scope)', async () => {
    const t = await auth.issue('user-1', 'a@example.com');
    expect(t.tokenType).toBe('Bearer');
    const [header] = t.accessToken.split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    const claims = jwt.decode(t.accessToken);
    expect(claims).toMatchObject({
      sub: 'user-1',
      iss: 'devstack',
      aud: 'devstack',
      scope: 'orders:read orders:write profile',
    });
    expect(claims.exp - claims.iat).toBe(3600);
    await expect(auth.verify(t.accessToken)).resolves.toMatchObject({ sub: 'user-1' });
  });

  it.each([
    ['another audience', () => jwt.signAsync({ scope: 'x' }, { subject: 'u', issuer: 'devstack', audience: 'other' })],
    ['another issuer', () => jwt.signAsync({ scope: 'x' }, { subject: 'u', issuer: 'evil', audience: 'devstack' })],
    ['another secret', () => new JwtService({ secret: 'nope' }).signAsync({}, { subject: 'u', issuer: 'devstack', audience: 'devstack' })],
    ['an expired token', () => jwt.signAsync({ exp: Math.floor(Date.now() / 1000) - 60 }, { subject: 'u', issuer: 'devstack', audience: 'devstack' })],
    ['alg none', async () => {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'u', iss: 'devstack', aud: 'devstack' })}.`;
    }],
  ])('rejects %s', async (_name, make) => {
    await expect(auth.verify(await make())).rejects.toThrow();
  });
});

describe('loadConfig', () => {
  it('says what is missing and how to fix it', () => {
    expect(() => loadConfig({ JWT_SECRET: 'x' })).toThrow(/DATABASE_URL is not set: run the service under devstack/);
  });
  it('rejects a bad PORT', () => {
    expect(() => loadConfig({ DATABASE_URL: 'x', JWT_SECRET: 'x', SCHEMA_REGISTRY_URL: 'http://r:1', PORT: 'eighty' })).toThrow(/PORT=eighty/);
  });
  it.each([
    [{}, /SCHEMA_REGISTRY_URL is not set: run the service under devstack/],
    [{ SCHEMA_REGISTRY_URL: 'localhost 8081' }, /SCHEMA_REGISTRY_URL=localhost 8081: want a URL/],
  ])('needs the schema registry (%o)', (env, message) => {
    expect(() => loadConfig({ DATABASE_URL: 'x', JWT_SECRET: 'x', ...env })).toThrow(message);
  });
  it('takes SCHEMA_REGISTRY_URL without a trailing slash', () => {
    expect(loadConfig({ DATABASE_URL: 'x', JWT_SECRET: 'x', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/' }).schemaRegistry).toEqual({
      url: 'http://127.0.0.1:8081',
      latestTtlMs: 1000,
    });
  });
  it('splits KAFKA_BROKERS', () => {
    expect(loadConfig({ DATABASE_URL: 'x', JWT_SECRET: 'x', SCHEMA_REGISTRY_URL: 'http://r:1', KAFKA_BROKERS: 'a:1, b:2,' }).kafkaBrokers).toEqual(['a:1', 'b:2']);
  });
});
