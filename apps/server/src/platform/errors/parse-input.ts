import type { z } from 'zod';
import { badInput } from './app-error.ts';

/** Validates one input value at the edge: BAD_USER_INPUT naming the field, or the parsed value. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw badInput(result.error.issues[0]?.message ?? `${field} is not valid`, { field });
  return result.data;
}
