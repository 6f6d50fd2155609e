import { Injectable, NestMiddleware } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { NextFunction, Response } from 'express';
import { AuthedRequest } from '../auth/principal';

/**
 * Takes the gateway's X-Request-Id (or makes one when called directly), echoes it in the response and
 * keeps it on the request so produced Kafka messages carry it as their correlation-id header.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: AuthedRequest, res: Response, next: NextFunction): void {
    const incoming = req.header('x-request-id');
    const id = incoming && incoming.length <= 128 ? incoming : randomUUID();
    req.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  }
}

export const RequestId = (req: AuthedRequest): string => req.requestId ?? randomUUID();
