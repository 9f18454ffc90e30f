/**
 * A private container engine: dockerd (which starts its own containerd) and runc, built by
 * returnpath, with their own data root, exec root, socket and cgroup parent, and every host-level
 * feature that would change the machine turned off (`--iptables=false --ip6tables=false
 * --ip-forward=false --ip-masq=false --bridge=none`): no FORWARD policy change, no chains, no
 * docker0. It reads no /etc/docker/daemon.json and writes nothing outside its directories.
 *
 * It runs in a network namespace of its own (`rp-<id>`): the bridges of its networks, the hosts'
 * ends of its containers' veths and docker-proxy's published ports live there, so the host's own
 * network namespace is never changed. What must be reached from this machine (kind's API server)
 * is carried across by relays over a Unix socket (lib/engine/relays.ts).
 *
 * It runs detached (its own session, output to a log file) so that a cluster kept on purpose
 * outlives the returnpath process; `stop` ends it by pid (checked against its start time) and
 * `sweepEngine` removes what a killed engine left.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { CommandRunner } from '../exec/command.js';
import {
  identityAlive,
  processStartTime,
  selfIdentity,
  type ProcessIdentity,
} from '../exec/process-identity.js';
import { DockerCli } from './docker.js';
import { claimHostDirs, ENGINE_HOST_DIRS, releaseHostDirs } from './host-dirs.js';
import { dataRoot, engineDataDir, engineRunDir } from './paths.js';
import {
  argvOf,
  pidsInCgroup,
  pidsWithArgument,
  removeCgroupTree,
  removeFiles,
  shimSockets,
  signal,
  unmountUnder,
} from './host-resources.js';

export interface EngineBinaries {
  dockerd: string;
  dockerProxy: string;
  /** The docker CLI. */
  docker: string;
  /** Directories put first on dockerd's PATH: containerd, containerd-shim-runc-v2, runc. */
  pathDirs: string[];
}

/** Everything needed to reach, stop or sweep an engine; stored by whoever owns it. */
export interface EngineRecord {
  id: string;
  dockerd: ProcessIdentity;
  /** Data root, logs, client configuration (on disk: images can be large). */
  dataDir: string;
  /** Exec root, socket, pid file (tmpfs). */
  runDir: string;
  host: string;
  configDir: string;
  dockerBin: string;
  /** Absolute cgroup path every container of this engine lives under. */
  cgroupParent: string;
  /** The engine's own network namespace (`ip netns` name). */
  netns?: string;
}

/** The network namespace an engine runs in: `rp-<id>`, made and removed by returnpath. */
export function engineNetns(id: string): string {
  return `rp-${id}`;
}

export interface StartEngineOptions {
  /** [a-z0-9-], short: it names the cgroup parent and directories. */
  id: string;
  binaries: EngineBinaries;
  dataDir: string;
  runDir: string;
  log?: (line: string) => void;
  /** How long dockerd may take to answer (default 120 s; it is seconds unless the machine is loaded). */
  readyTimeoutMs?: number;
}

export const ENGINE_FLAGS = [
  '--iptables=false',
  '--ip6tables=false',
  '--ip-forward=false',
  '--ip-masq=false',
  '--bridge=none',
] as const;

/** dockerd's argv for an engine (pure: the unit test pins the flags that keep the host untouched). */
export function dockerdArgv(o: {
  binaries: EngineBinaries;
  dataDir: string;
  runDir: string;
  cgroupParent: string;
}): string[] {
  return [
    o.binaries.dockerd,
    '--data-root',
    join(o.dataDir, 'docker'),
    '--exec-root',
    join(o.runDir, 'exec'),
    '--host',
    `unix://${join(o.runDir, 'docker.sock')}`,
    '--pidfile',
    join(o.runDir, 'dockerd.pid'),
    '--config-file',
    join(o.dataDir, 'daemon.json'),
    ...ENGINE_FLAGS,
    '--cgroup-parent',
    o.cgroupParent,
    '--userland-proxy-path',
    o.binaries.dockerProxy,
    '--log-level',
    'warn',
  ];
}

export class PrivateEngine {
  readonly docker: DockerCli;

  private constructor(readonly record: EngineRecord) {
    this.docker = new DockerCli({
      dockerBin: record.dockerBin,
      host: record.host,
      configDir: record.configDir,
    });
  }

  static async start(o: StartEngineOptions): Promise<PrivateEngine> {
    if (process.getuid?.() !== 0) throw new EnvironmentError('the private container engine needs root');
    if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(o.id))
      throw new Error(`engine id "${o.id}": [a-z0-9-], up to 41 characters`);
    const log = o.log ?? (() => undefined);
    await mkdir(o.dataDir, { recursive: true });
    await mkdir(o.runDir, { recursive: true });
    const configDir = join(o.dataDir, 'client');
    await mkdir(configDir, { recursive: true });
    await writeFile(join(o.dataDir, 'daemon.json'), '{}\n');
    await claimHostDirs(ENGINE_HOST_DIRS);
    const cgroupParent = `/returnpath-${o.id}`;
    const netns = engineNetns(o.id);
    const runner = new CommandRunner();
    await runner.run(['ip', 'netns', 'add', netns]);
    try {
      await runner.run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
    } catch (e) {
      await runner.run(['ip', 'netns', 'del', netns], { allowFailure: true });
      throw e;
    }
    const argv = [
      'nsenter',
      `--net=/run/netns/${netns}`,
      '--',
      ...dockerdArgv({ binaries: o.binaries, dataDir: o.dataDir, runDir: o.runDir, cgroupParent }),
    ];
    const logFile = join(o.dataDir, 'dockerd.log');
    const fd = openSync(logFile, 'a');
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: {
          ...process.env,
          PATH: [...o.binaries.pathDirs, process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(':'),
        },
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      await runner.run(['ip', 'netns', 'del', netns], { allowFailure: true });
      throw new EnvironmentError(
        `could not start ${o.binaries.dockerd} (run 'returnpath components build engine')`,
      );
    }
    let exited: string | undefined;
    child.once('exit', (code, sig) => (exited = `exited (${sig ?? code})`));
    child.unref();
    const record: EngineRecord = {
      id: o.id,
      dockerd: { pid, startTime: processStartTime(pid) ?? 0 },
      dataDir: o.dataDir,
      runDir: o.runDir,
      host: `unix://${join(o.runDir, 'docker.sock')}`,
      configDir,
      dockerBin: o.binaries.docker,
      cgroupParent,
      netns,
    };
    const engine = new PrivateEngine(record);
    await writeFile(
      join(o.runDir, 'engine.json'),
      JSON.stringify({ record, owner: selfIdentity() }, null, 2) + '\n',
    );
    log(`engine ${o.id}: dockerd pid ${pid} in network namespace ${netns}, socket ${record.host}`);
    const deadline = Date.now() + (o.readyTimeoutMs ?? 120_000);
    for (;;) {
      const v = await engine.docker.run(['version', '--format', '{{.Server.Version}}'], {
        allowFailure: true,
        timeoutMs: 10_000,
      });
      if (v.code === 0) {
        log(`engine ${o.id}: dockerd ${v.stdout.trim()} ready`);
        return engine;
      }
      if (exited || Date.now() > deadline) {
        const tail = await readFile(logFile, 'utf8').catch(() => '');
        await engine.stop().catch(() => undefined);
        throw new EnvironmentError(
          `the private engine did not start (dockerd ${exited ?? 'did not answer in time'}); ` +
            `last lines of ${logFile}:\n${tail.trim().split('\n').slice(-8).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** An engine from its record, when its dockerd still runs. */
  static attach(record: EngineRecord): PrivateEngine | undefined {
    return identityAlive(record.dockerd) ? new PrivateEngine(record) : undefined;
  }

  alive(): boolean {
    return identityAlive(this.record.dockerd);
  }

  /** Stops dockerd (which stops its containerd), then sweeps anything left. Idempotent. */
  async stop(opts: { keepData?: boolean } = {}): Promise<SweepReport> {
    return sweepEngine(this.record, opts);
  }
}

export interface SweepReport {
  killed: number[];
  unmounted: string[];
  /** Cgroup directories the kernel would not remove (processes still in them). */
  cgroupsLeft: string[];
  /** Host directories returnpath had made for engines, removed with the last one. */
  hostDirs: string[];
}

/**
 * Ends an engine and removes what it leaves: dockerd (SIGTERM, then SIGKILL after 30 s), processes
 * still in its cgroup parent (containers whose dockerd was killed), containerd shims that name its
 * socket, mounts under its directories, its cgroup directories, its directories.
 */
export async function sweepEngine(
  record: EngineRecord,
  opts: { keepData?: boolean } = {},
): Promise<SweepReport> {
  const runner = new CommandRunner();
  const killed: number[] = [];
  if (identityAlive(record.dockerd)) {
    signal(record.dockerd.pid, 'SIGTERM');
    if (!(await waitGone([record.dockerd], 30_000))) {
      signal(record.dockerd.pid, 'SIGKILL');
      await waitGone([record.dockerd], 10_000);
      killed.push(record.dockerd.pid);
    }
  }
  const socket = join(record.runDir, 'exec', 'containerd', 'containerd.sock');
  const strays = [
    ...(await pidsInCgroup(record.cgroupParent)),
    ...(await pidsWithArgument(socket)),
    ...(await pidsWithArgument(`unix://${socket}`)),
  ];
  const ids = [...new Set(strays)].map((pid) => ({ pid, startTime: processStartTime(pid) ?? 0 }));
  // A killed shim leaves its sockets in containerd's fixed socket directory: note them first.
  const sockets = (await Promise.all(ids.map(async (id) => shimSockets(await argvOf(id.pid))))).flat();
  for (const id of ids) if (signal(id.pid, 'SIGKILL')) killed.push(id.pid);
  await waitGone(ids, 10_000);
  await removeFiles(sockets);
  const unmounted = await unmountUnder(runner, [record.runDir, record.dataDir]);
  const cgroupsLeft = await removeCgroupTree(record.cgroupParent);
  // Its bridges and the veths of its containers go with it.
  if (record.netns) await runner.run(['ip', 'netns', 'del', record.netns], { allowFailure: true });
  await rm(record.runDir, { recursive: true, force: true });
  if (!opts.keepData) await rm(record.dataDir, { recursive: true, force: true });
  const hostDirs = await releaseHostDirs(() => otherEnginesAlive(record.id));
  return { killed, unmounted, cgroupsLeft, hostDirs };
}

/** Whether an engine other than `self` still runs (its dockerd alive), from the runtime directories. */
export async function otherEnginesAlive(self: string): Promise<boolean> {
  const runParent = dirname(engineRunDir('x'));
  for (const id of await readdir(runParent).catch(() => [] as string[])) {
    if (id === self) continue;
    const meta = await readFile(join(runParent, id, 'engine.json'), 'utf8')
      .then((t) => JSON.parse(t) as { record: EngineRecord })
      .catch(() => undefined);
    if (meta && identityAlive(meta.record.dockerd)) return true;
  }
  return false;
}

async function waitGone(ids: readonly ProcessIdentity[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => identityAlive({ pid: id.pid, startTime: id.startTime }))) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * Sweeps engines whose owner process is dead and that no one still uses (`inUse`: ids of engines
 * kept clusters run on): an interrupted node-image build, a crashed run. Also removes data
 * directories of engines that no longer have a runtime directory (after a reboot).
 */
export async function sweepOrphanEngines(inUse: ReadonlySet<string>): Promise<string[]> {
  const swept: string[] = [];
  const runParent = dirname(engineRunDir('x'));
  for (const id of await readdir(runParent).catch(() => [] as string[])) {
    if (inUse.has(id)) continue;
    const meta = await readFile(join(runParent, id, 'engine.json'), 'utf8')
      .then((t) => JSON.parse(t) as { record: EngineRecord; owner: ProcessIdentity })
      .catch(() => undefined);
    if (!meta) {
      if (!(await pidsWithArgument(join(runParent, id, 'exec'))).length) {
        await rm(join(runParent, id), { recursive: true, force: true });
        await new CommandRunner().run(['ip', 'netns', 'del', engineNetns(id)], { allowFailure: true });
        swept.push(id);
      }
      continue;
    }
    if (identityAlive(meta.owner)) continue;
    await sweepEngine(meta.record);
    swept.push(id);
  }
  const dataParent = join(dataRoot(), 'engines');
  for (const id of await readdir(dataParent).catch(() => [] as string[])) {
    if (inUse.has(id) || swept.includes(id)) continue;
    const live = await readdir(engineRunDir(id)).then(
      () => true,
      () => false,
    );
    if (live) continue;
    await unmountUnder(new CommandRunner(), [engineDataDir(id)]);
    await rm(engineDataDir(id), { recursive: true, force: true });
    swept.push(id);
  }
  return swept;
}
