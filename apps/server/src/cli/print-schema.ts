import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { printSdl } from '../platform/graphql/schema.ts';

/** `npm run codegen` (server part): writes the committed SDL that the SDK is generated from. */
const target = path.resolve(import.meta.dirname, '../../schema.graphql');
await writeFile(target, printSdl());
process.stdout.write(`wrote ${target}\n`);
