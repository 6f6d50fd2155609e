import { MiddlewareConsumer, Module, NestModule, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module';
import { RequestIdMiddleware } from './common/request-id.middleware';
import { ConfigModule } from './config/config.module';
import { APP_CONFIG, AppConfig } from './config/configuration';
import { typeormOptions } from './database/typeorm-options';
import { HealthModule } from './health/health.module';
import { OrdersModule } from './orders/orders.module';
import { shutdownTelemetry } from './telemetry';
import { UsersModule } from './users/users.module';

@Module({
  imports: [
    ConfigModule,
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ ...typeormOptions(config.databaseUrl), retryAttempts: 5, retryDelay: 1000 }),
    }),
    AuthModule,
    UsersModule,
    OrdersModule,
    HealthModule,
  ],
})
export class AppModule implements NestModule, OnApplicationShutdown {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware).forRoutes('*path');
  }

  /** The spans still buffered go out before the process exits. */
  onApplicationShutdown(): Promise<void> {
    return shutdownTelemetry();
  }
}
