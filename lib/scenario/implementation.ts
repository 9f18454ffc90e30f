/**
 * The run axis `--cni real`: a cell whose nodes use a VPC CNI profile runs with the real plugin
 * and node setup of the same generation (vpc-cni -> the pinned v1.23, vpc-cni-legacy -> the pinned
 * v1.7), or with a build of the user's own (`--cni-bin DIR`) for the generation that build is.
 * Other profiles stay emulated (the result's `implementation.cni` says so). The cell keeps its id,
 * expectation and mechanism: the verdict must not depend on the implementation.
 */
import type { CellSpec } from './cell.js';

export type VpcProfile = 'vpc-cni' | 'vpc-cni-legacy';

export interface CniChoice {
  implementation: 'emulated' | 'real';
  /** Builds of the user's own, per generation (`--cni-bin`); the pinned build otherwise. */
  builds?: Partial<Record<VpcProfile, string>>;
}

const VPC_PROFILES: readonly string[] = ['vpc-cni', 'vpc-cni-legacy'];

type Doc = Record<string, unknown>;

function isObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Does any node of this topology document use a VPC CNI profile (its own or the defaults')? */
export function usesVpcCni(topology: unknown): boolean {
  if (!isObject(topology)) return false;
  const defaults = isObject(topology['defaults']) ? topology['defaults']['cni'] : undefined;
  const nodes = Array.isArray(topology['nodes']) ? topology['nodes'] : [];
  return nodes.some((n) => {
    const cni = isObject(n) && isObject(n['cni']) ? n['cni'] : defaults;
    return isObject(cni) && VPC_PROFILES.includes(String(cni['profile']));
  });
}

function withChoice(cni: unknown, choice: CniChoice): unknown {
  if (!isObject(cni) || !VPC_PROFILES.includes(String(cni['profile']))) return cni;
  const out: Doc = { ...cni, implementation: choice.implementation };
  delete out['build'];
  delete out['version'];
  const build = choice.builds?.[cni['profile'] as VpcProfile];
  if (choice.implementation === 'real' && build) out['build'] = build;
  return out;
}

/** The cell with every VPC CNI node set to `choice` (a copy; the suite's table is untouched). */
export function withCniImplementation(cell: CellSpec, choice: CniChoice): CellSpec {
  if (!usesVpcCni(cell.topology)) return cell;
  const doc = structuredClone(cell.topology) as Doc;
  if (isObject(doc['defaults']) && 'cni' in doc['defaults'])
    doc['defaults'] = { ...doc['defaults'], cni: withChoice(doc['defaults']['cni'], choice) };
  if (Array.isArray(doc['nodes']))
    doc['nodes'] = doc['nodes'].map((n: unknown) =>
      isObject(n) && 'cni' in n ? { ...n, cni: withChoice(n['cni'], choice) } : n,
    );
  return { ...cell, topology: doc };
}
