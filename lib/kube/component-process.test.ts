import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ComponentDiedError, ComponentProcess, whileRunning } from './component-process.js';
import { CheckFailed, done, notYet, waitFor, WaitTimeoutError } from './wait.js';

describe('component processes and waits', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'rp-cp-test-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  const start = (name: string, script: string): ComponentProcess =>
    ComponentProcess.start({
      name,
      argv: [process.execPath, '-e', script],
      logFile: join(dir, `${name}.log`),
    });

  it('a component that exits on its own ends a wait with its last log lines', async () => {
    const p = start('dies', "console.log('starting'); console.error('fatal: no etcd'); process.exit(3)");
    try {
      await waitFor(async () => notYet('not ready'), {
        what: 'readiness',
        components: [p],
        timeoutMs: 10_000,
      });
      expect.fail('no error');
    } catch (e) {
      expect(e).to.be.instanceOf(ComponentDiedError);
      expect((e as ComponentDiedError).message).to.match(/^dies exited \(code 3\)/);
      expect((e as ComponentDiedError).lastLines).to.deep.equal(['starting', 'fatal: no etcd']);
    }
  });

  it('stopping a component is not a death; stop() is SIGTERM then SIGKILL', async () => {
    const p = start(
      'stubborn',
      "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('up')",
    );
    await waitFor(async () => (p.lastLines().includes('up') ? done(true) : notYet('starting')), {
      what: 'start',
    });
    const work = whileRunning(new Promise((r) => setTimeout(() => r('finished'), 400)), [p]);
    const exit = await p.stop(200);
    expect(exit.signal).to.equal('SIGKILL');
    expect(await work).to.equal('finished');
    expect(p.running).to.equal(false);
  });

  it('a component that crashes before it is ready is restarted (as the kubelet would); after markReady an exit is a death', async () => {
    const marker = join(dir, 'crashed-once');
    // Crashes on its first start (as kube-proxy v1.36.3's start-up race does), then runs.
    const script =
      `const fs = require('node:fs'); if (!fs.existsSync(${JSON.stringify(marker)})) ` +
      `{ fs.writeFileSync(${JSON.stringify(marker)}, ''); console.error('panic: nil handler'); process.exit(2); } ` +
      `console.log('up'); setInterval(() => {}, 1000);`;
    const p = ComponentProcess.start({
      name: 'flaky',
      argv: [process.execPath, '-e', script],
      logFile: join(dir, 'flaky.log'),
      restartsBeforeReady: 3,
    });
    await waitFor(async () => (p.lastLines().includes('up') ? done(true) : notYet('starting')), {
      what: 'start',
      components: [p],
      timeoutMs: 10_000,
    });
    expect(p.restarts).to.equal(1);
    expect(p.lastLines().join('\n')).to.match(
      /flaky exited \(code 2\) before it was ready; restarted \(1 of 3\)/,
    );
    p.markReady();
    const death = p.died().catch((e: unknown) => e);
    process.kill(p.pid, 'SIGKILL');
    const e = await death;
    expect(e).to.be.instanceOf(ComponentDiedError);
    expect((e as Error).message).to.match(/^flaky exited \(signal SIGKILL\)/);
    expect(p.restarts).to.equal(1);
  });

  it('a component that keeps crashing before it is ready dies after its last restart', async () => {
    const p = ComponentProcess.start({
      name: 'crashes',
      argv: [process.execPath, '-e', "console.error('panic'); process.exit(2)"],
      logFile: join(dir, 'crashes.log'),
      restartsBeforeReady: 2,
    });
    const e = await p.died().catch((err: unknown) => err);
    expect(e).to.be.instanceOf(ComponentDiedError);
    expect(p.restarts).to.equal(2);
  });

  it('a wait that never holds times out saying what it saw; a CheckFailed ends it at once', async () => {
    try {
      await waitFor(async () => notYet('2 of 3 endpoints'), { what: 'EndpointSlices', timeoutMs: 50 });
      expect.fail('no timeout');
    } catch (e) {
      expect(e).to.be.instanceOf(WaitTimeoutError);
      expect((e as Error).message).to.match(/waiting for EndpointSlices; last seen: 2 of 3 endpoints/);
    }
    const fatal = new Error('HTTP 422 Invalid');
    let n = 0;
    const err = await waitFor(
      async () => {
        n++;
        throw new CheckFailed(fatal);
      },
      { what: 'x', timeoutMs: 5000 },
    ).catch((e: unknown) => e);
    expect(err).to.equal(fatal);
    expect(n).to.equal(1);
  });
});
