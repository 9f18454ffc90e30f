/**
 * `returnpath run --cni emulated|real [--cni-bin DIR]`: which implementation the VPC CNI cells run
 * with. `--cni-bin DIR` (a build of your own, `returnpath components build vpc-cni --source
 * CHECKOUT --out DIR`) implies `--cni real` for its generation; the other generation runs the
 * pinned real build.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { findBuilt, vpcCni, vpcCniLegacy } from '../components/index.js';
import { EnvironmentError } from '../errors.js';
import { missingFiles, VPC_CNI_BUILD_FILES, type UserBuildManifest } from '../cni/real/build.js';
import type { CellSpec } from '../scenario/cell.js';
import {
  usesVpcCni,
  withCniImplementation,
  type CniChoice,
  type VpcProfile,
} from '../scenario/implementation.js';
import { UsageError } from './command.js';

export async function cniChoice(
  cni: string | undefined,
  cniBin: string | undefined,
  command = 'run',
): Promise<CniChoice | undefined> {
  if (cni !== undefined && cni !== 'emulated' && cni !== 'real')
    throw new UsageError(command, `--cni ${cni}`, 'allowed: emulated (the default), real');
  if (cniBin === undefined) return cni === 'real' ? { implementation: 'real' } : undefined;
  if (cni === 'emulated')
    throw new UsageError(command, '--cni-bin', 'runs a real build: drop --cni emulated');
  const dir = resolve(cniBin);
  const missing = await missingFiles(dir, VPC_CNI_BUILD_FILES);
  if (missing.length > 0)
    throw new UsageError(
      command,
      `--cni-bin ${cniBin}`,
      `holds no VPC CNI build (missing ${missing.join(', ')}); make one with ` +
        `'returnpath components build vpc-cni --source CHECKOUT --out ${cniBin}'`,
    );
  const manifest = await readFile(join(dir, 'manifest.json'), 'utf8')
    .then((t) => JSON.parse(t) as UserBuildManifest)
    .catch(() => undefined);
  const profile: VpcProfile = manifest?.name === 'vpc-cni-legacy' ? 'vpc-cni-legacy' : 'vpc-cni';
  return { implementation: 'real', builds: { [profile]: dir } };
}

/**
 * The cells as they will run, a line saying which run real, and a check that the pinned builds
 * they need exist (exit 3 naming the build command otherwise).
 */
export async function applyCniChoice(
  cells: readonly CellSpec[],
  choice: CniChoice | undefined,
): Promise<{ cells: CellSpec[]; line?: string }> {
  if (!choice || choice.implementation === 'emulated') return { cells: [...cells] };
  const real = cells.filter((c) => usesVpcCni(c.topology));
  const needs = new Set<VpcProfile>();
  for (const c of real)
    for (const p of ['vpc-cni', 'vpc-cni-legacy'] as const)
      if (!choice.builds?.[p] && JSON.stringify(c.topology).includes(`"profile":"${p}"`)) needs.add(p);
  for (const p of needs) {
    const component = p === 'vpc-cni' ? vpcCni : vpcCniLegacy;
    if (!(await findBuilt(component)))
      throw new EnvironmentError(
        `--cni real: ${p} ${await component.version()} is not built: run 'returnpath components build ${p}'`,
      );
  }
  const builds = Object.entries(choice.builds ?? {}).map(([p, d]) => `${p} from ${d}`);
  return {
    cells: cells.map((c) => withCniImplementation(c, choice)),
    line:
      `--cni real: ${real.length} cells with a VPC CNI profile run the real plugin and node setup` +
      `${builds.length ? ` (${builds.join(', ')}; the pinned build otherwise)` : ' (pinned builds)'}` +
      `; ${cells.length - real.length} cells with other profiles stay emulated`,
  };
}

/** The flags that repeat a choice in a cell's reproduce lines (`run` and `lab up --cell` take both). */
export function cniFlags(choice: CniChoice): string[] {
  if (choice.implementation !== 'real') return [];
  const dir = Object.values(choice.builds ?? {})[0];
  return dir ? ['--cni-bin', dir] : ['--cni', 'real'];
}
