/**
 * What returnpath knows about the kind clusters it made: one record per cluster in
 * `<state dir>/kind/<name>.json`, written before anything is created, so `kind clean` can tell an
 * interrupted run (owner dead) from a live one or one kept on purpose, and so a cluster of the
 * same name that returnpath did not make is never touched.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineRecord } from '../engine/private-engine.js';
import { identityAlive, type ProcessIdentity } from '../exec/process-identity.js';
import { STATE_DIR } from '../lab/state.js';

export function kindStateDir(): string {
  return join(STATE_DIR, 'kind');
}

export type EngineRef =
  /** returnpath's own engine, started for this cluster. */
  | { mode: 'private'; record: EngineRecord }
  /** An engine returnpath does not manage (the user's Docker). */
  | { mode: 'external'; host?: string; dockerBin: string; configDir?: string };

export interface ClusterRecord {
  name: string;
  /** 6 hex digits: the prefix of every host object the cluster makes (`rp-<runId>-...`). */
  runId: string;
  /** The process that owns the cluster; null once it is kept on purpose (`kind up`, `--keep`). */
  owner: ProcessIdentity | null;
  createdAt: string;
  engine?: EngineRef;
  kindBin: string;
  image: string;
  kubeconfig: string;
  configFile: string;
  /** The docker network the nodes are on, and its bridge on the host (when returnpath made it). */
  network: { name: string; bridge?: string; created: boolean };
  /** Container ids of the nodes kind made: a cluster with other nodes of this name is not ours. */
  nodeContainerIds: string[];
  /** Set once the cluster was created and its nodes became Ready. */
  ready: boolean;
  /**
   * On returnpath's engine: the relays that carry the API server's port out of the engine's
   * network namespace to this machine's 127.0.0.1 (the kubeconfig's server).
   */
  apiRelay?: { port: number; processes: ProcessIdentity[] };
}

function recordPath(name: string): string {
  return join(kindStateDir(), `${name}.json`);
}

export async function writeClusterRecord(r: ClusterRecord): Promise<void> {
  await mkdir(kindStateDir(), { recursive: true });
  const tmp = `${recordPath(r.name)}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(r, null, 2) + '\n');
  await rename(tmp, recordPath(r.name));
}

export async function readClusterRecord(name: string): Promise<ClusterRecord | undefined> {
  return readFile(recordPath(name), 'utf8')
    .then((t) => JSON.parse(t) as ClusterRecord)
    .catch(() => undefined);
}

export async function removeClusterRecord(name: string): Promise<void> {
  await rm(recordPath(name), { force: true });
}

export async function listClusterRecords(): Promise<ClusterRecord[]> {
  const files = (await readdir(kindStateDir()).catch(() => [] as string[])).filter((f) =>
    f.endsWith('.json'),
  );
  const all = await Promise.all(files.map((f) => readClusterRecord(f.slice(0, -'.json'.length))));
  return all.filter((r): r is ClusterRecord => r !== undefined);
}

export type ClusterState = 'owned-by-live-run' | 'kept' | 'interrupted';

export function clusterState(r: ClusterRecord): ClusterState {
  if (r.owner === null) return 'kept';
  return identityAlive(r.owner) ? 'owned-by-live-run' : 'interrupted';
}
