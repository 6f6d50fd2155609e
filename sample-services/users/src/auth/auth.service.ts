import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createRemoteJWKSet, decodeProtectedHeader, JWTVerifyGetKey, jwtVerify } from 'jose';
import { APP_CONFIG, AppConfig } from '../config/configuration';

/** Scopes every registered user gets; the gateway checks them per route. */
export const USER_SCOPES = ['orders:read', 'orders:write', 'profile'] as const;

/** What the gateway's keys may sign with: asymmetric only, so a public key can never act as an HMAC secret. */
const GATEWAY_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

export interface AccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  scope: string;
}

/** Claims of the tokens this service issues and the gateway verifies (HS256, iss/aud "devstack"). */
export interface TokenClaims {
  sub: string;
  scope: string;
  email?: string;
  iss?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
}

@Injectable()
export class AuthService {
  /** The gateway's published keys, fetched on first use, cached, refetched for an unknown kid. */
  private readonly gatewayKeys?: JWTVerifyGetKey;

  constructor(
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const url = config.jwt.gatewayJwksUrl;
    if (url) {
      const remote = createRemoteJWKSet(url, { cooldownDuration: config.jwt.jwksCooldownMs });
      this.gatewayKeys = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (err) {
          throw new Error(`no gateway key for kid ${header.kid ?? '(none)'} at ${url}: ${(err as Error).message}`);
        }
      };
    }
  }

  async issue(userId: string, email: string): Promise<AccessToken> {
    const scope = USER_SCOPES.join(' ');
    const accessToken = await this.jwt.signAsync(
      { scope, email },
      {
        subject: userId,
        issuer: this.config.jwt.issuer,
        audience: this.config.jwt.audience,
        expiresIn: this.config.jwt.ttlSeconds,
        algorithm: 'HS256',
      },
    );
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.jwt.ttlSeconds, scope };
  }

  /**
   * Accepts what the gateway accepts: this service's own HS256 login tokens and the tokens of the
   * gateway's development issuer (`devstack token`, POST /oauth/token), checked against the keys the
   * gateway publishes. Throws when the token is malformed, expired, badly signed or meant for someone else.
   */
  async verify(token: string): Promise<TokenClaims> {
    const { alg } = decodeProtectedHeader(token);
    if (alg === 'HS256') {
      return this.jwt.verifyAsync<TokenClaims>(token, {
        issuer: this.config.jwt.issuer,
        audience: this.config.jwt.audience,
        algorithms: ['HS256'],
      });
    }
    if (!alg || !GATEWAY_ALGORITHMS.includes(alg)) {
      throw new Error(`algorithm ${alg ?? '(none)'} is not accepted (HS256 login tokens or the gateway's ${GATEWAY_ALGORITHMS.join('/')})`);
    }
    if (!this.gatewayKeys) {
      throw new Error(`a ${alg} token is checked against the gateway's keys, but GATEWAY_URL is not set (devstack sets it; export it when running alone)`);
    }
    const { payload } = await jwtVerify(token, this.gatewayKeys, {
      issuer: this.config.jwt.issuer,
      audience: this.config.jwt.audience,
      algorithms: GATEWAY_ALGORITHMS,
      requiredClaims: ['sub', 'exp'],
    });
    return { ...payload, sub: payload.sub as string, scope: typeof payload.scope === 'string' ? payload.scope : '' };
  }
}
