import { ValueTransformer } from 'typeorm';

/** node-postgres returns BIGINT as a string; amounts in cents fit a JS number safely (< 2^53). */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
