import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG, AppConfig } from '../config/configuration';

/** Scopes every registered user gets; the gateway checks them per route. */
export const USER_SCOPES = ['orders:read', 'orders:write', 'profile'] as const;

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
  constructor(
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

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

  /** Throws when the token is malformed, expired, badly signed or meant for someone else. */
  async verify(token: string): Promise<TokenClaims> {
    return this.jwt.verifyAsync<TokenClaims>(token, {
      issuer: this.config.jwt.issuer,
      audience: this.config.jwt.audience,
      algorithms: ['HS256'],
    });
  }
}
