#!/usr/bin/env node
// Runs after tsc (`npm run build`): records the package version and the git commit the build was
// made from in dist/build-info.json, so an installed copy (a tarball has no .git) still knows them.
// Outside a git checkout the commit is null and `returnpath --version` says so.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const git = (args) => {
  try {
    return execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
};
// Only this checkout's own repository counts (not one that happens to contain it).
const top = git(['rev-parse', '--show-toplevel']);
const inCheckout = top !== null && realpathSync(top) === realpathSync(root);
const commit = inCheckout ? git(['rev-parse', 'HEAD']) : null;
const dirty = inCheckout && commit ? git(['status', '--porcelain', '--untracked-files=no']) !== '' : false;
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const info = { version, commit, dirty, builtAt: new Date().toISOString() };
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
