import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { printSdl } from './schema.ts';

const COMMITTED = path.resolve(import.meta.dirname, '../../../schema.graphql');

describe('committed SDL', () => {
  it('matches the schema the server builds (run `npm run codegen` when this fails)', async () => {
    const committed = await readFile(COMMITTED, 'utf8').catch(() => '');
    expect(
      committed,
      'apps/server/schema.graphql is missing or stale: run `npm run codegen` and commit the result',
    ).toBe(printSdl());
  });
});
