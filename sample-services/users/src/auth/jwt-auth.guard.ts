import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthService } from './auth.service';
import { AuthedRequest, SCOPES_KEY } from './principal';

/**
 * Verifies the bearer token itself instead of trusting X-Auth-* headers: the gateway already checked it
 * (and strips client-sent X-Auth-*), but the service is also reachable on its own port, so it does not
 * rely on being behind the gateway. It accepts the same tokens as the gateway (AuthService.verify):
 * its own HS256 login tokens and the gateway dev issuer's, against the gateway's cached JWKS.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization ?? '';
    const [kind, token] = header.split(' ');
    if (kind?.toLowerCase() !== 'bearer' || !token) {
      throw new UnauthorizedException('missing bearer token');
    }
    let claims;
    try {
      claims = await this.auth.verify(token);
    } catch (err) {
      throw new UnauthorizedException(`invalid token: ${(err as Error).message}`);
    }
    const scopes = (claims.scope ?? '').split(' ').filter(Boolean);
    const required =
      this.reflector.getAllAndOverride<string[] | undefined>(SCOPES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? [];
    const missing = required.filter((s) => !scopes.includes(s));
    if (missing.length > 0) {
      throw new ForbiddenException(`token lacks scope: ${missing.join(' ')}`);
    }
    req.principal = { userId: claims.sub, scopes };
    return true;
  }
}
