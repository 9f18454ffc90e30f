/**
 * Integration: a lab that adopts another process's network namespace (as `run --kind` adopts a
 * kind node's) wires it like its own, and on teardown, by `lab down` or by `lab clean` after its
 * owner died, only detaches it: the process inside lives on, and nothing of the lab is left. A
 * sleeping process in a namespace of its own (`unshare --net`) stands for the kind node. Uses its
 * own state directory.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCli } from '../cli/cli-test-support.js';
import { CommandRunner } from '../exec/command.js';
import { listNetns } from './state.js';
import { requireLab } from './test-support.js';

const TOPOLOGY = `${REPO}examples/seed-003-baseline.yaml`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('lab adoption of a foreign network namespace (real namespaces)', function () {
  this.timeout(120_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  const runner = new CommandRunner();

  before(async function () {
    requireLab(this);
    dir = await mkdtemp(join(tmpdir(), 'rp-adopt-'));
    env = { ...process.env, RETURNPATH_STATE_DIR: dir };
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (dir) {
      await runCli(['lab', 'clean', '--all'], { env });
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** A process alone in a new network namespace: the stand-in for a kind node container. */
  async function foreignNode(): Promise<{ pid: number; netns: string }> {
    const child = spawn('unshare', ['--net', '--', 'sleep', '600'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid!;
    // unshare execs sleep once the namespace exists.
    for (let i = 0; i < 200; i++) {
      const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
      if (ns && ns !== (await readlink('/proc/self/ns/net'))) return { pid, netns: ns };
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('unshare --net did not start');
  }

  /** A process holding a lab of TOPOLOGY that adopts node-c as `pid`; prints the run id once up. */
  function holder(pid: number): Promise<{ child: ChildProcess; runId: string }> {
    const script = `
      const { loadTopology } = await import(${JSON.stringify(`${REPO}dist/lib/model/topology.js`)});
      const { Lab } = await import(${JSON.stringify(`${REPO}dist/lib/lab/lab.js`)});
      const { labContributors } = await import(${JSON.stringify(`${REPO}dist/lib/lab/contributors.js`)});
      const lab = await Lab.up(await loadTopology(${JSON.stringify(TOPOLOGY)}), {
        contributors: labContributors(),
        adopt: { 'node/node-c': ${pid} },
      });
      console.log(lab.runId);
      process.stdin.once('data', async () => { await lab.down(); console.log('down'); process.exit(0); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env,
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve({ child, runId: d.toString().trim() }));
      child.once('exit', (c) => reject(new Error(`lab holder exited ${c}`)));
    });
  }

  const ours = async (runId: string): Promise<string[]> =>
    (await listNetns()).filter((n) => n.startsWith(`rp-${runId}-`));

  it('wires the adopted namespace as a node and, on lab down, detaches it without touching its process', async () => {
    const node = await foreignNode();
    const { child, runId } = await holder(node.pid);
    const name = `rp-${runId}-node-node-c`;
    expect(await ours(runId)).to.include(name);
    // The lab's name is the process's own namespace, and the node's ENI is in it.
    const links = await runner.run(['nsenter', `--net=/proc/${node.pid}/ns/net`, '--', 'ip', '-o', 'addr']);
    expect(links.stdout).to.match(/eth0\s+inet 10\.0\.1\.11\/24/);
    expect((await runner.run(['ip', 'netns', 'identify', String(node.pid)])).stdout.trim()).to.equal(name);
    const done = new Promise((r) =>
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('down') && r(0)),
    );
    child.stdin!.write('down\n');
    await done;
    expect(alive(node.pid), 'the adopted namespace holder').to.equal(true);
    expect(await ours(runId)).to.deep.equal([]);
    // Its ENI went with the fabric's end of the veth.
    const after = await runner.run(['nsenter', `--net=/proc/${node.pid}/ns/net`, '--', 'ip', '-o', 'link']);
    expect(after.stdout).not.to.match(/eth0/);
  });

  it("lab clean after the owner died detaches the adopted namespace and kills only the lab's own processes", async () => {
    const node = await foreignNode();
    const { child, runId } = await holder(node.pid);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const clean = await runCli(['lab', 'clean'], { env });
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.match(/removed 1 run\(s\)/);
    expect(alive(node.pid), 'the adopted namespace holder').to.equal(true);
    expect(await ours(runId)).to.deep.equal([]);
  });
});
