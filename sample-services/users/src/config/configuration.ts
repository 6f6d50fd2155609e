/** Typed settings read once from the environment the supervisor (devstack) injects. */
export interface AppConfig {
  host: string;
  port: number;
  databaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistry: {
    /** SCHEMA_REGISTRY_URL, which devstack injects (registry: in devstack.yaml). */
    url: string;
    /** How long a subject's looked-up latest schema id is used before asking the registry again. */
    latestTtlMs: number;
  };
  jwt: {
    secret: string;
    issuer: string;
    audience: string;
    ttlSeconds: number;
    /** The gateway's JWKS (its development issuer's keys): GATEWAY_URL/.well-known/jwks.json, if known. */
    gatewayJwksUrl?: URL;
    /** Least time between two JWKS fetches (an unknown kid triggers one). */
    jwksCooldownMs: number;
  };
  bcryptRounds: number;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

function required(env: NodeJS.ProcessEnv, key: string): string {
  const value = env[key];
  if (!value) {
    throw new Error(`${key} is not set: run the service under devstack (it injects ${key}) or export it`);
  }
  return value;
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${key}=${raw}: want a non-negative integer`);
  return n;
}

function jwksUrl(env: NodeJS.ProcessEnv): URL | undefined {
  const base = env.GATEWAY_URL;
  if (!base) return undefined;
  try {
    return new URL('/.well-known/jwks.json', base);
  } catch {
    throw new Error(`GATEWAY_URL=${base}: want a URL such as http://127.0.0.1:8080`);
  }
}

function registryUrl(env: NodeJS.ProcessEnv): string {
  const raw = required(env, 'SCHEMA_REGISTRY_URL');
  try {
    return new URL(raw).toString().replace(/\/$/, '');
  } catch {
    throw new Error(`SCHEMA_REGISTRY_URL=${raw}: want a URL such as http://127.0.0.1:8081`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    host: env.HOST || '127.0.0.1',
    // PORT 0 asks the OS for a free port (handy when running alone); devstack always sets PORT.
    port: int(env, 'PORT', 0),
    databaseUrl: required(env, 'DATABASE_URL'),
    kafkaBrokers: (env.KAFKA_BROKERS || '127.0.0.1:9092')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    schemaRegistry: {
      url: registryUrl(env),
      latestTtlMs: int(env, 'SCHEMA_LATEST_TTL_MS', 1000),
    },
    jwt: {
      secret: required(env, 'JWT_SECRET'),
      issuer: env.JWT_ISSUER || 'devstack',
      audience: env.JWT_AUDIENCE || 'devstack',
      ttlSeconds: int(env, 'JWT_TTL_SECONDS', 3600),
      gatewayJwksUrl: jwksUrl(env),
      jwksCooldownMs: int(env, 'JWKS_COOLDOWN_MS', 30_000),
    },
    bcryptRounds: int(env, 'BCRYPT_ROUNDS', 12),
  };
}
