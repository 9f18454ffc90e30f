import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, sweepLockFiles, tryAcquireLock } from './file-lock.js';

describe('file lock (flock held by a child)', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'rp-lock-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is exclusive: a second taker waits until the first releases', async () => {
    const path = join(dir, 'a.lock');
    const first = await acquireLock(path);
    expect(await tryAcquireLock(path)).to.equal(undefined);
    let waited = '';
    const order: string[] = [];
    const second = acquireLock(path, { onWait: (h) => (waited = h) }).then((l) => {
      order.push('second');
      return l;
    });
    // The second taker reports the holder before it blocks.
    while (!waited) await new Promise((r) => setTimeout(r, 5));
    expect(waited).to.equal(`pid ${process.pid}`);
    order.push('released');
    await first.release();
    await (await second).release();
    expect(order).to.deep.equal(['released', 'second']);
  });

  it('cannot go stale: when the process holding it is killed, the kernel releases it', async () => {
    const path = join(dir, 'b.lock');
    const module = new URL('./file-lock.js', import.meta.url).href;
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(module)}); await m.acquireLock(${JSON.stringify(path)}); console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    expect(await tryAcquireLock(path)).to.equal(undefined);
    holder.kill('SIGKILL');
    const lock = await acquireLock(path);
    await lock.release();
  });

  it('sweep removes lock files nobody holds and keeps held ones', async () => {
    const held = await acquireLock(join(dir, 'held.lock'));
    const free = await acquireLock(join(dir, 'free.lock'));
    await free.release();
    const removed = await sweepLockFiles(dir);
    expect(removed).to.deep.equal([join(dir, 'free.lock')]);
    expect((await readdir(dir)).sort()).to.deep.equal(['held.lock', 'held.lock.owner']);
    await held.release();
  });
});
