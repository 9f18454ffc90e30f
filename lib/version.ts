/**
 * Which returnpath this is: the package version and the git commit it was built from, recorded at
 * build time in dist/build-info.json (scripts/write-build-info.mjs), so an installed copy knows them
 * too. The commit is null when the build was not made in a git checkout.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

export interface Provenance {
  version: string;
  /** Full commit hash; null when unknown (not built from a git checkout). */
  commit: string | null;
  /** The checkout had uncommitted changes to tracked files when it was built. */
  dirty: boolean;
}

let cached: Provenance | undefined;

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** As results, JUnit and certificates record it. */
export function provenanceRecord(): Provenance {
  const p = provenance();
  return { version: p.version, commit: p.commit, dirty: p.dirty };
}

/** This build's version and commit. */
export function provenance(): Provenance {
  if (cached) return cached;
  // dist/lib/version.js: the build info is dist/build-info.json, package.json is beside dist/.
  const info = readJson(new URL('../build-info.json', import.meta.url));
  const pkg = readJson(new URL('../../package.json', import.meta.url));
  const version =
    typeof info?.['version'] === 'string' ? info['version'] : String(pkg?.['version'] ?? '0.0.0');
  const commit = typeof info?.['commit'] === 'string' ? info['commit'] : null;
  cached = { version, commit, dirty: info?.['dirty'] === true };
  return cached;
}

/** `0.1.0 (commit 0d91da0055b8, uncommitted changes)` / `0.1.0 (commit unknown: ...)`. */
export function describeProvenance(p: Provenance = provenance()): string {
  if (!p.commit) return `${p.version} (commit unknown: not built from a git checkout)`;
  return `${p.version} (commit ${p.commit}${p.dirty ? ', built with uncommitted changes' : ''})`;
}

/** The kernel this process runs on (`uname -r`). */
export function kernelRelease(): string {
  return release();
}
