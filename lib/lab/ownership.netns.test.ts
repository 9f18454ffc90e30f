/**
 * Integration: lab ownership on real namespaces, through the built CLI. Every test uses its own
 * state directory (RETURNPATH_STATE_DIR) and touches only labs it created; `lab clean` is run
 * only against those directories.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO, runCli } from '../cli/cli-test-support.js';
import { CommandRunner } from '../exec/command.js';
import { namespaceMarker } from './clean.js';
import { newRunId } from './lab.js';
import { deleteNamespaces } from './realize.js';
import { labMarker, listNetns, type RunState } from './state.js';
import { requireLab } from './test-support.js';

const example = (name: string): string => `${REPO}examples/${name}.yaml`;

describe('lab ownership (real namespaces, own state directories)', function () {
  this.timeout(120_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const owners: ChildProcess[] = [];
  const runner = new CommandRunner();

  before(async function () {
    requireLab(this);
    dir = await mkdtemp(join(tmpdir(), 'rp-state-'));
    env = { ...process.env, RETURNPATH_STATE_DIR: dir };
  });
  after(async () => {
    for (const c of owners) if (c.exitCode === null) c.kill('SIGKILL');
    if (dir) {
      // Whatever a failed test left: only runs recorded in this directory.
      await runCli(['lab', 'clean', '--all'], { env });
      await rm(dir, { recursive: true, force: true });
    }
  });

  const ours = async (runId: string): Promise<string[]> =>
    (await listNetns()).filter((n) => n.startsWith(`rp-${runId}-`));
  const state = async (runId: string): Promise<RunState> =>
    JSON.parse(await readFile(join(dir, `${runId}.json`), 'utf8')) as RunState;

  /**
   * A process that brings a lab up in `dir` and holds it: `persistent` stops it while building
   * (before the lab's processes start), as a `lab up` killed mid-build would be.
   */
  async function owner(
    topology: string,
    mode: 'owned' | 'building',
  ): Promise<{ child: ChildProcess; runId: string }> {
    const script = `
      const { loadTopology } = await import(${JSON.stringify(`${REPO}dist/lib/model/topology.js`)});
      const { Lab } = await import(${JSON.stringify(`${REPO}dist/lib/lab/lab.js`)});
      const { labContributors } = await import(${JSON.stringify(`${REPO}dist/lib/lab/contributors.js`)});
      const t = await loadTopology(${JSON.stringify(example(topology))});
      const lab = await Lab.up(t, {
        contributors: labContributors(),
        persistent: ${mode === 'building'},
        beforeProcesses: async (l) => {
          console.log(l.runId);
          ${mode === 'building' ? 'await new Promise(() => {});' : ''}
        },
      });
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    owners.push(child);
    const runId = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (c) => reject(new Error(`lab owner exited ${c}`)));
    });
    return { child, runId };
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  it('lab up --run-id of a lab that is up is refused (exit 2) and leaves that lab untouched', async () => {
    const up = await runCli(['lab', 'up', example('seed-001-hairpin')], { env });
    expect(up.code, up.stderr).to.equal(0);
    const runId = /^run ([0-9a-f]{6}):/.exec(up.stdout)![1]!;
    const before = await readFile(join(dir, `${runId}.json`), 'utf8');
    const namespaces = await ours(runId);
    const again = await runCli(['lab', 'up', example('seed-003-baseline'), '--run-id', runId], { env });
    expect(again.code).to.equal(2);
    expect(again.stderr).to.match(new RegExp(`run id ${runId} is in use: lab ${runId} exists`));
    expect(await readFile(join(dir, `${runId}.json`), 'utf8')).to.equal(before);
    expect(await ours(runId)).to.deep.equal(namespaces);
    // The NLB node agents of the first lab still run.
    const dump = await runCli(['lab', 'exec', runId, 'fabric', '--', 'ip', '-o', 'link'], { env });
    expect(dump.code).to.equal(0);
    const down = await runCli(['lab', 'down', runId], { env });
    expect(down.code, down.stderr).to.equal(0);
    expect(await ours(runId)).to.deep.equal([]);
  });

  it('lab up --run-id refuses an id whose namespaces exist without a state, and removes nothing', async () => {
    const runId = newRunId();
    const stray = `rp-${runId}-fabric`;
    await runner.run(['ip', 'netns', 'add', stray]);
    try {
      const r = await runCli(['lab', 'up', example('seed-001-hairpin'), '--run-id', runId], { env });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/namespace\(s\) of run .* exist without a state/);
      expect(await ours(runId)).to.deep.equal([stray]);
    } finally {
      await deleteNamespaces(runner, [stray]);
    }
  });

  it('lab up interrupted while building (Ctrl-C to its group) removes what it built and exits 130', async () => {
    // Only the state this lab up creates counts (a lab an earlier test left must not trigger the signal).
    const earlier = new Set(await readdir(dir));
    const child = spawn(process.execPath, [CLI, 'lab', 'up', example('seed-004-cross-zone')], {
      cwd: REPO,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    let runId: string | undefined;
    while (!runId) {
      runId = (await readdir(dir)).find((f) => /^[0-9a-f]{6}\.json$/.test(f) && !earlier.has(f))?.slice(0, 6);
      if (child.exitCode !== null) throw new Error('lab up ended before it was interrupted');
      if (!runId) await sleep(5);
    }
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, out).to.equal(130);
    expect(await ours(runId)).to.deep.equal([]);
    expect(await readdir(dir)).not.to.include(`${runId}.json`);
  });

  it('lab down refuses a lab whose owner runs, unless --force', async () => {
    const { child, runId } = await owner('seed-002-lb-snat-policy-routing', 'owned');
    const n = (await ours(runId)).length;
    const refused = await runCli(['lab', 'down', runId], { env });
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(new RegExp(`lab ${runId} is in use: owned by pid ${child.pid}`));
    expect(await ours(runId)).to.have.length(n);
    const list = await runCli(['lab', 'list'], { env });
    expect(list.stdout).to.match(new RegExp(`${runId} .* owned by pid ${child.pid}, still running`));
    const forced = await runCli(['lab', 'down', runId, '--force'], { env });
    expect(forced.code, forced.stderr).to.equal(0);
    expect(await ours(runId)).to.deep.equal([]);
    await kill(child);
  });

  it('lab clean tells a reused PID from the owner (start time) and removes a half-built lab', async () => {
    const live = await owner('seed-001-hairpin', 'owned');
    const dead = await owner('seed-002-lb-snat-policy-routing', 'owned');
    const half = await owner('seed-004-cross-zone', 'building');
    expect((await state(half.runId)).phase).to.equal('building');
    await kill(dead.child);
    await kill(half.child);
    // The dead owner's PID is reused: a running process (this one) now has it, started at another time.
    const s = await state(dead.runId);
    await writeFile(
      join(dir, `${dead.runId}.json`),
      JSON.stringify({ ...s, pid: process.pid, owner: { ...s.owner!, pid: process.pid } }),
    );

    const clean = await runCli(['lab', 'clean'], { env });
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.match(new RegExp(`kept ${live.runId}: owned by pid ${live.child.pid}`));
    expect(await ours(dead.runId)).to.deep.equal([]);
    expect(await ours(half.runId)).to.deep.equal([]);
    expect((await ours(live.runId)).length).to.be.greaterThan(0);
    await kill(live.child);
    const again = await runCli(['lab', 'clean'], { env });
    expect(again.code).to.equal(0);
    expect(await ours(live.runId)).to.deep.equal([]);
  });

  it('lab clean removes only what its state directory records or marks, never other rp-* namespaces', async () => {
    // A lab of another state directory, and a namespace returnpath did not make.
    const otherDir = await mkdtemp(join(tmpdir(), 'rp-state-other-'));
    const otherEnv = { ...process.env, RETURNPATH_STATE_DIR: otherDir };
    const up = await runCli(['lab', 'up', example('seed-001-hairpin')], { env: otherEnv });
    expect(up.code, up.stderr).to.equal(0);
    const otherRun = /^run ([0-9a-f]{6}):/.exec(up.stdout)![1]!;
    const strangerRun = newRunId();
    const stranger = `rp-${strangerRun}-node-x`;
    await runner.run(['ip', 'netns', 'add', stranger]);
    // A lab of this directory whose state file was lost: its namespaces carry this directory's marker.
    const mine = await runCli(['lab', 'up', example('seed-001-hairpin')], { env });
    const lostRun = /^run ([0-9a-f]{6}):/.exec(mine.stdout)![1]!;
    expect(await namespaceMarker(runner, `rp-${lostRun}-fabric`)).to.equal(labMarker(lostRun, dir));
    await rm(join(dir, `${lostRun}.json`));
    try {
      const clean = await runCli(['lab', 'clean', '--all'], { env });
      expect(clean.code, clean.stderr).to.equal(0);
      expect(await ours(lostRun)).to.deep.equal([]);
      expect(await ours(strangerRun)).to.deep.equal([stranger]);
      expect((await ours(otherRun)).length).to.be.greaterThan(0);
      expect(clean.stdout).to.match(
        new RegExp(`kept ${otherRun}: .* not recorded in ${dir} and without its marker`),
      );
    } finally {
      await deleteNamespaces(runner, [stranger]);
      await runCli(['lab', 'down', otherRun], { env: otherEnv });
      await rm(otherDir, { recursive: true, force: true });
    }
    expect(await ours(otherRun)).to.deep.equal([]);
  });
});
