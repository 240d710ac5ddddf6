import { z } from 'zod';
import { badInput } from '../../platform/errors/app-error.ts';
import { parseOrThrow } from '../../platform/errors/parse-input.ts';
import type { PageCursor } from './blocklist.repository.ts';

export type Page<T> = { items: T[]; nextCursor: string | null };

export const firstSchema = z
  .number()
  .int()
  .min(1, 'first must be at least 1')
  .max(100, 'first is at most 100');

/** Opaque to clients: the last row's time and id, newest-first keyset pagination. */
const encodeCursor = (row: { createdAt: Date; id: string }) =>
  Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');

export function decodeCursor(cursor: string | null | undefined): PageCursor | undefined {
  if (!cursor) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !z.uuid().safeParse(id).success || Number.isNaN(createdAt.getTime()))
    throw badInput('after must be a cursor from a previous page', { field: 'after' });
  return { createdAt, id };
}

export const pageLimit = (first: number) => parseOrThrow(firstSchema, first, 'first');

/** `rows` was read with `limit + 1`: the extra row only says that there is a next page. */
export function toPage<T extends { createdAt: Date; id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
