/**
 * Crash safety for control planes: before any component starts, a record
 * (`<state dir>/kube-<id>.json`) names the owner process, and each component is added as it
 * starts. `returnpath lab clean` stops the components of records whose owner is dead and removes
 * their directory (a lab left up by `lab up --kubernetes` has owner 0 and is swept only with
 * --all, or by `lab down`).
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { identityAlive, selfIdentity, type ProcessIdentity } from '../exec/process-identity.js';
import { STATE_DIR } from '../lab/state.js';

export interface KubeStateRecord {
  id: string;
  /** The process that owns the control plane; pid 0 for a lab left up on purpose. */
  owner: ProcessIdentity;
  /** The directory holding PKI, data, kubeconfigs, sockets and logs (removed with it). */
  dir: string;
  components: (ProcessIdentity & { name: string })[];
}

const file = (id: string): string => join(STATE_DIR, `kube-${id}.json`);

export class KubeState {
  private constructor(readonly record: KubeStateRecord) {}

  static async create(id: string, dir: string, persistent: boolean): Promise<KubeState> {
    const s = new KubeState({
      id,
      owner: persistent ? { pid: 0, startTime: 0 } : selfIdentity(),
      dir,
      components: [],
    });
    await s.save();
    return s;
  }

  async add(name: string, who: ProcessIdentity): Promise<void> {
    this.record.components.push({ name, ...who });
    await this.save();
  }

  async remove(): Promise<void> {
    await rm(file(this.record.id), { force: true });
  }

  private async save(): Promise<void> {
    await mkdir(STATE_DIR, { recursive: true });
    await writeFile(file(this.record.id), JSON.stringify(this.record, null, 2));
  }
}

export async function readKubeState(id: string): Promise<KubeStateRecord | undefined> {
  return readFile(file(id), 'utf8')
    .then((t) => JSON.parse(t) as KubeStateRecord)
    .catch(() => undefined);
}

export async function listKubeStates(): Promise<KubeStateRecord[]> {
  const names = await readdir(STATE_DIR).catch(() => [] as string[]);
  const out: KubeStateRecord[] = [];
  for (const n of names) {
    const m = /^kube-([0-9a-z-]+)\.json$/.exec(n);
    const r = m && (await readKubeState(m[1]!));
    if (r) out.push(r);
  }
  return out;
}

/**
 * Stops a recorded control plane's components, last started first (kube-proxy, controller-manager,
 * apiserver, etcd), SIGTERM then SIGKILL, and removes its directory and record.
 */
export async function destroyKubeState(r: KubeStateRecord): Promise<void> {
  await stopRecorded([...r.components].reverse());
  await rm(r.dir, { recursive: true, force: true });
  await rm(file(r.id), { force: true });
}

export interface KubeCleanReport {
  removed: string[];
  kept: { id: string; why: string }[];
}

/** Sweeps control planes whose owner died (and, with `all`, those left up by `lab up`). */
export async function cleanControlPlanes(opts: { all?: boolean } = {}): Promise<KubeCleanReport> {
  const report: KubeCleanReport = { removed: [], kept: [] };
  for (const r of await listKubeStates()) {
    if (r.owner.pid !== 0 && identityAlive(r.owner)) {
      report.kept.push({ id: r.id, why: `owner process ${r.owner.pid} is running` });
      continue;
    }
    if (r.owner.pid === 0 && !opts.all) {
      report.kept.push({
        id: r.id,
        why: "left up by 'lab up --kubernetes' (use 'lab down RUN' or 'lab clean --all')",
      });
      continue;
    }
    await destroyKubeState(r);
    report.removed.push(r.id);
  }
  return report;
}

/** Stops recorded processes one after the other (SIGTERM, SIGKILL after 5 s); the dead are skipped. */
export async function stopRecorded(components: readonly ProcessIdentity[]): Promise<void> {
  for (const c of components) {
    if (!identityAlive(c)) continue;
    try {
      process.kill(c.pid, 'SIGTERM');
    } catch {
      continue;
    }
    for (let i = 0; i < 100 && identityAlive(c); i++) await sleep(50);
    if (identityAlive(c)) process.kill(c.pid, 'SIGKILL');
  }
}
