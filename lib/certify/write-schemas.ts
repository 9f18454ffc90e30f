/**
 * Writes schemas/snapshot.schema.json and schemas/certificate.schema.json from the zod schemas, formatted
 * with the repository's prettier settings. Run after changing snapshot.ts or certificate.ts:
 * `npm run build && node dist/lib/certify/write-schemas.js`. The drift tests fail until you do.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { certifySchemaFiles } from './certificate.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const prettier = await import('prettier');
for (const f of certifySchemaFiles()) {
  const file = path.join(repo, f.path);
  const options = (await prettier.resolveConfig(file)) ?? {};
  const text = await prettier.format(JSON.stringify(f.schema), { ...options, filepath: file });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  console.log(`wrote ${f.path}`);
}
