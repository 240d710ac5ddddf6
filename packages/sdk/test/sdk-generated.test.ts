import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import { config } from '../codegen.ts';

const SDK_DIR = path.resolve(import.meta.dirname, '..');
const OUTPUT = 'src/generated/graphql.ts';

describe('generated SDK', () => {
  it('matches what codegen produces from the committed SDL (run `npm run codegen` when this fails)', async () => {
    const files = (await generate({ ...config, cwd: SDK_DIR }, false)) as Array<{
      filename: string;
      content: string;
    }>;
    const generated = files.find(
      (file) => path.resolve(SDK_DIR, file.filename) === path.join(SDK_DIR, OUTPUT),
    );
    expect(generated, `codegen produced no ${OUTPUT}`).toBeDefined();
    const committed = await readFile(path.join(SDK_DIR, OUTPUT), 'utf8').catch(() => '');
    expect(committed, `packages/sdk/${OUTPUT} is stale: run \`npm run codegen\` and commit the result`).toBe(
      generated?.content,
    );
  });
});
