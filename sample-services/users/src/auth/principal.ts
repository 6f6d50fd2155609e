import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { Request } from 'express';

/** The authenticated caller: the token's subject and scopes. */
export interface Principal {
  userId: string;
  scopes: string[];
}

export type AuthedRequest = Request & { principal?: Principal; requestId?: string };

export const SCOPES_KEY = 'scopes';
/** Scopes the caller's token must carry, all of them. */
export const RequireScopes = (...scopes: string[]) => SetMetadata(SCOPES_KEY, scopes);

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  if (!req.principal) throw new Error('CurrentPrincipal used on a route without JwtAuthGuard');
  return req.principal;
});
