import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { typeormOptions } from './typeorm-options';

/** For the TypeORM CLI: `npm run typeorm -- migration:show` with DATABASE_URL set. */
export default new DataSource(typeormOptions(process.env.DATABASE_URL ?? ''));
