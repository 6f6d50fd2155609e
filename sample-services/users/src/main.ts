// First: OpenTelemetry patches http, pg and kafkajs before anything loads them (off without OTEL_* env).
import './instrument';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { APP_CONFIG, AppConfig } from './config/configuration';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, {
    // Colours only on a terminal: under devstack the log goes to its log view and files.
    logger: new ConsoleLogger({ prefix: 'users', colors: Boolean(process.stdout.isTTY) }),
  });
  configureApp(app);
  const config = app.get<AppConfig>(APP_CONFIG);
  // Listen where devstack says: every instance (and the new one of a blue-green reload) gets its own PORT.
  await app.listen(config.port, config.host);
  Logger.log(`users listening on ${await app.getUrl()}`, 'Bootstrap');
}

bootstrap().catch((err: unknown) => {
  Logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err), 'Bootstrap');
  process.exit(1);
});
