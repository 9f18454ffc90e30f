#!/usr/bin/env node
// npm's `prepare` (npm install in a checkout, npm pack, installing from git): build when the
// compiler is there. A production install of a checkout (`npm ci --omit=dev`) has no TypeScript;
// it keeps the dist/ already built (build first: `npm ci && npm run build && npm prune --omit=dev`).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  const built = existsSync(join(root, 'dist', 'lib', 'cli', 'main.js'));
  console.error(
    `returnpath prepare: TypeScript is not installed (dev dependencies omitted): not building; ` +
      (built
        ? 'using the dist/ already built'
        : 'there is no dist/ yet: run `npm ci && npm run build` first'),
  );
  process.exit(0);
}
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'scripts', 'write-build-info.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
