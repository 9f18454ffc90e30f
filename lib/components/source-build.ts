/**
 * A component built from the user's own checkout instead of the module proxy: the same wrapper
 * module and binaries as the pinned recipe, with a `replace` of the upstream module to the
 * checkout. Used to gate a CNI change: build the base branch and the pull request, run the suites
 * with each (`returnpath run --cni-bin DIR`), compare with `--baseline`.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ValidationError } from '../errors.js';
import { vpcCni, vpcCniLegacy } from './catalog.js';
import { GoModuleComponent } from './go-module.js';
import { buildInto, type BuildOptions, type BuildReport } from './store.js';

/** The components that can be built from a checkout, by name, and the module they replace. */
const FROM_SOURCE: Record<string, { component: GoModuleComponent; module: string }> = {
  'vpc-cni': { component: vpcCni, module: 'github.com/aws/amazon-vpc-cni-k8s' },
  'vpc-cni-legacy': { component: vpcCniLegacy, module: 'github.com/aws/amazon-vpc-cni-k8s' },
};

export const SOURCE_BUILDABLE = Object.keys(FROM_SOURCE);

/** The module path a go.mod declares. */
export function moduleOf(goMod: string): string | undefined {
  return /^\s*module\s+(\S+)/m.exec(goMod)?.[1];
}

/** The component `name` built from `source` (a checkout of its upstream module) into `out`. */
export async function buildFromSource(
  name: string,
  source: string,
  out: string,
  opts: BuildOptions = {},
): Promise<BuildReport> {
  const entry = FROM_SOURCE[name];
  if (!entry)
    throw new ValidationError('returnpath components build', [
      { path: 'argv', value: name, message: `--source builds ${SOURCE_BUILDABLE.join(' or ')} only` },
    ]);
  const dir = resolve(source);
  const goMod = await readFile(resolve(dir, 'go.mod'), 'utf8').catch(() => undefined);
  if (goMod === undefined || moduleOf(goMod) !== entry.module)
    throw new ValidationError('returnpath components build', [
      {
        path: '--source',
        value: source,
        message: `must be a checkout of ${entry.module} (a directory whose go.mod declares that module)`,
      },
    ]);
  const outDir = resolve(out);
  const existing = await stat(outDir).catch(() => undefined);
  if (existing) {
    const manifest = await readFile(resolve(outDir, 'manifest.json'), 'utf8').catch(() => undefined);
    if (manifest === undefined)
      throw new ValidationError('returnpath components build', [
        {
          path: '--out',
          value: out,
          message: 'exists and holds no earlier build (no manifest.json); give a new directory',
        },
      ]);
  }
  const r = entry.component.r;
  const fromSource = new GoModuleComponent({
    ...r,
    version: 'source',
    // Any version: the replace decides what is compiled.
    require: { ...r.require, [entry.module]: 'v0.0.0-00010101000000-000000000000' },
    goModExtra: () => Promise.resolve([`replace ${entry.module} => ${dir}`]),
  });
  return buildInto(fromSource, outDir, { ...opts, extra: { source: dir } });
}
