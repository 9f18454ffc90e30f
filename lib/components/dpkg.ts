/** Reading a root filesystem's dpkg database: installed packages, their dependency closure, their files. */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface InstalledPackage {
  name: string;
  arch: string;
  /** Each entry a list of alternatives (`a | b`), names only. */
  depends: string[][];
  provides: string[];
}

/** The installed packages of a /var/lib/dpkg/status file. */
export function parseDpkgStatus(text: string): Map<string, InstalledPackage> {
  const out = new Map<string, InstalledPackage>();
  for (const para of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of para.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      else {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (m) fields.set((last = m[1]!), m[2]!);
      }
    }
    const name = fields.get('Package');
    if (!name || !/\binstalled$/.test(fields.get('Status') ?? '')) continue;
    const rel = (f: string): string[][] =>
      (fields.get(f) ?? '')
        .split(',')
        .map((alts) =>
          alts
            .split('|')
            .map((a) =>
              a
                .trim()
                .replace(/\s*\(.*\)$/, '')
                .replace(/:any$/, ''),
            )
            .filter(Boolean),
        )
        .filter((alts) => alts.length > 0);
    out.set(name, {
      name,
      arch: fields.get('Architecture') ?? 'all',
      depends: [...rel('Pre-Depends'), ...rel('Depends')],
      provides: rel('Provides').flat(),
    });
  }
  return out;
}

/**
 * The installed packages `roots` need, following Pre-Depends and Depends (an alternative or a
 * virtual package resolves to the first installed package that is or provides it). Sorted.
 */
export function dependencyClosure(
  installed: Map<string, InstalledPackage>,
  roots: readonly string[],
): string[] {
  const providers = new Map<string, string>();
  for (const p of installed.values())
    for (const v of p.provides) if (!providers.has(v)) providers.set(v, p.name);
  const resolve = (name: string): string | undefined => (installed.has(name) ? name : providers.get(name));
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const want = todo.pop()!;
    const name = resolve(want);
    if (!name) {
      if (roots.includes(want)) throw new Error(`package ${want} is not installed in the root filesystem`);
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    for (const alts of installed.get(name)!.depends) {
      const hit = alts.map(resolve).find((x) => x !== undefined);
      if (hit) todo.push(hit);
    }
  }
  return [...seen].sort();
}

/** The paths (absolute inside the root filesystem) dpkg lists for a package. */
export async function packageFiles(rootfs: string, pkg: InstalledPackage): Promise<string[]> {
  const info = join(rootfs, 'var/lib/dpkg/info');
  for (const f of [`${pkg.name}:${pkg.arch}.list`, `${pkg.name}.list`]) {
    const p = join(info, f);
    if (
      await access(p).then(
        () => true,
        () => false,
      )
    )
      return (await readFile(p, 'utf8')).split('\n').filter((l) => l.startsWith('/') && l !== '/.');
  }
  throw new Error(`no file list for ${pkg.name} in ${info}`);
}
