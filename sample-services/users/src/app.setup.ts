import { INestApplication, RequestMethod, ValidationPipe } from '@nestjs/common';

/** Everything main.ts configures on the app, shared with the tests so they run the same pipeline. */
export function configureApp(app: INestApplication): void {
  // The gateway forwards /api/users/** and /api/orders/** unchanged; /health stays at the root for probes.
  app.setGlobalPrefix('api', { exclude: [{ path: 'health', method: RequestMethod.GET }] });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
    }),
  );
  app.enableShutdownHooks();
}
