/**
 * Integration: Ctrl-C at a terminal sends SIGINT to the whole foreground process group. The cells
 * in flight must finish (their workers survive the signal), the run exits 130 with them recorded,
 * and nothing is left behind. The run uses its own results and state directories.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandRunner } from '../exec/command.js';
import { netnsPrefix } from '../exec/netns.js';
import { pidsInNetns, type RunState } from '../lab/state.js';
import { requireLab } from '../lab/test-support.js';
import type { RunResults } from '../scenario/result.js';
import { CLI, REPO } from './cli-test-support.js';

function labNamespaces(stateDir: string): Promise<string[]> {
  return (async () => {
    const netns: string[] = [];
    for (const f of await readdir(stateDir).catch(() => [] as string[])) {
      if (!f.endsWith('.json')) continue;
      try {
        const s = JSON.parse(await readFile(join(stateDir, f), 'utf8')) as Partial<RunState>;
        netns.push(...(s.hosts ?? []).map((h) => h.netns));
      } catch {
        // Removed or replaced while read: the next poll sees it.
      }
    }
    return netns;
  })();
}

/**
 * A cell of the labs recorded in `stateDir` is probing: a traffic worker runs and a connection
 * attempt is in flight (a socket in SYN-SENT: the cells chosen here have attempts that time out).
 */
async function probing(stateDir: string, runner: CommandRunner): Promise<boolean> {
  const netns = await labNamespaces(stateDir);
  let workers = 0;
  for (const pid of await pidsInNetns(netns)) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('worker.js')) workers++;
  }
  if (workers === 0) return false;
  for (const n of netns) {
    const r = await runner.run([...netnsPrefix(n), 'ss', '-Htn', 'state', 'syn-sent'], {
      allowFailure: true,
    });
    if (r.code === 0 && r.stdout.trim() !== '') return true;
  }
  return false;
}

describe('returnpath run: Ctrl-C to the process group (real namespaces)', function () {
  this.timeout(180_000);
  let root: string;
  before(async function () {
    requireLab(this);
    root = await mkdtemp(join(tmpdir(), 'rp-sigint-'));
  });
  after(async () => root && rm(root, { recursive: true, force: true }));

  for (const command of ['run', 'certify'] as const)
    it(`${command}: the cells in flight finish (no error), exit 130, nothing left${command === 'certify' ? ', no verdict written' : ''}`, async () => {
      const stateDir = join(root, `${command}-state`);
      const results = join(root, `${command}-results`);
      const args =
        command === 'run'
          ? ['run', '--suite', 'lb-snat-policy-routing', '--grep', 'rp-1\\.fix-(off|on)\\.sdc-(off|on):']
          : ['certify', `${REPO}samples/snapshots/hardened-rp-filter-1`];
      // Its own process group, as a terminal's foreground job: the group gets the signal, this process does not.
      const child = spawn(
        process.execPath,
        [CLI, ...args, '--concurrency', '2', '--results', results, '--run-id', 'interrupted'],
        {
          cwd: REPO,
          env: { ...process.env, RETURNPATH_STATE_DIR: stateDir },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

      // Wait until a cell is probing (its lab is up, its workers connect), then interrupt the whole group.
      const runner = new CommandRunner();
      for (let i = 0; !(await probing(stateDir, runner)); i++) {
        if (child.exitCode !== null || i > 2400) throw new Error(`no cell started probing:\n${out}`);
        await sleep(25);
      }
      process.kill(-child.pid!, 'SIGINT');
      const code = await exited;

      expect(code, out).to.equal(130);
      const r = JSON.parse(
        await readFile(join(results, 'interrupted', 'results.json'), 'utf8'),
      ) as RunResults;
      expect(r.state).to.equal('interrupted');
      expect(r.cells.length, out).to.be.greaterThan(0);
      for (const c of r.cells) expect(c.status, `${c.id}: ${c.reason}`).not.to.equal('error');
      expect(await readdir(stateDir).catch(() => []), 'labs left behind').to.deep.equal([]);
      if (command === 'certify') {
        const files = await readdir(join(results, 'interrupted'));
        expect(files).not.to.include('certificate.json');
        expect(out).not.to.match(/CERTIFIED/);
      }
    });
});
