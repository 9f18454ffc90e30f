/**
 * Where a real VPC CNI's binaries come from: the pinned build in the component cache
 * (`returnpath components build vpc-cni`), or a directory the user built from their own checkout
 * (`returnpath components build vpc-cni --source CHECKOUT --out DIR`).
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireBuilt, vpcCni, vpcCniLegacy } from '../../components/index.js';
import { ValidationError } from '../../errors.js';
import { pinnedVpcCniVersion, type VpcCniSpec } from '../../model/topology.js';

/** What a VPC CNI build directory holds (component recipe in lib/components/catalog.ts). */
export const VPC_CNI_BUILD_FILES = [
  'bin/aws-cni',
  'bin/vpc-cni-node',
  'bin/cni-exec',
  'rpc/rpc.proto',
] as const;

/** Which of `files` (relative paths) `dir` lacks. */
export async function missingFiles(dir: string, files: readonly string[]): Promise<string[]> {
  const present = await Promise.all(
    files.map((f) =>
      access(join(dir, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return files.filter((_, i) => !present[i]);
}

export interface VpcCniBuild {
  profile: VpcCniSpec['profile'];
  dir: string;
  /** The pinned version, or what the build's manifest says. */
  version: string;
  /** The user's build directory, when it is one. */
  userBuild?: string;
  file(rel: (typeof VPC_CNI_BUILD_FILES)[number] | 'bin/egress-cni'): string;
}

/** The manifest `components build --source --out` writes into a user build. */
export interface UserBuildManifest {
  name: string;
  version: string;
  source?: string;
}

export async function resolveVpcCniBuild(cni: VpcCniSpec, path: string): Promise<VpcCniBuild> {
  if (!cni.build) {
    const b = await requireBuilt(cni.profile === 'vpc-cni' ? vpcCni : vpcCniLegacy);
    const version = pinnedVpcCniVersion(cni.profile);
    return {
      profile: cni.profile,
      dir: b.dir,
      version,
      file: (f) => b.path(f),
    };
  }
  const dir = cni.build;
  // The current generation's conflist chains egress-cni after aws-cni (EKS's 10-aws.conflist).
  const needed = cni.profile === 'vpc-cni' ? [...VPC_CNI_BUILD_FILES, 'bin/egress-cni'] : VPC_CNI_BUILD_FILES;
  const missing = await missingFiles(dir, needed);
  if (missing.length > 0)
    throw new ValidationError('topology', [
      {
        path: `${path}.build`,
        value: JSON.stringify(dir),
        message:
          `holds no VPC CNI build (missing ${missing.join(', ')}); make one with ` +
          `'returnpath components build ${cni.profile} --source CHECKOUT --out ${dir}'`,
      },
    ]);
  const manifest = await readFile(join(dir, 'manifest.json'), 'utf8')
    .then((t) => JSON.parse(t) as UserBuildManifest)
    .catch(() => undefined);
  if (manifest && manifest.name !== cni.profile)
    throw new ValidationError('topology', [
      {
        path: `${path}.build`,
        value: JSON.stringify(dir),
        message: `holds a ${manifest.name} build; this node's profile is ${cni.profile} (the node helper differs between them)`,
      },
    ]);
  const version = manifest?.version ?? 'unknown version';
  return {
    profile: cni.profile,
    dir,
    version,
    userBuild: dir,
    file: (f) => join(dir, f),
  };
}
