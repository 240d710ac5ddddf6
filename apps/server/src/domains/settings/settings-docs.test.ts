import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SETTING_KEYS, settingDefinitions } from './settings.definitions.ts';

const DOCS = new URL('../../../../../docs/settings.md', import.meta.url);

// Operators set these at runtime from the docs; a key missing there is a key nobody knows to tune.
describe('docs/settings.md', () => {
  it('lists every declared key with its default, and no key that is not declared', async () => {
    const text = await readFile(DOCS, 'utf8');
    const documented = new Map(
      [...text.matchAll(/^\| `([a-z0-9_.]+)` *\| `(.*?)` *\|/gm)].map((m) => [m[1], m[2]] as const),
    );
    expect([...documented.keys()].sort()).toEqual([...SETTING_KEYS].sort());
    for (const key of SETTING_KEYS) {
      expect(documented.get(key), key).toBe(JSON.stringify(settingDefinitions[key].default));
    }
  });
});
