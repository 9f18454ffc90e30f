import { expect } from 'chai';
import { createServer, connect, type Server } from 'node:net';
import { IoDeadline, until } from './deadline.js';

/** Keeps the CPU (and this event loop) busy for ms: what a loaded machine does to a process. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe('IoDeadline', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => server.close());

  it('a connect that completed while the process was stalled past the deadline is not a timeout', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      const d = new IoDeadline(20, (e) => resolve(`timeout (${e.lateMs} ms late)`));
      s.on('connect', () => {
        d.clear();
        s.destroy();
        resolve('connected');
      });
      // After net.connect's own nextTick has issued connect(2): the kernel completes the handshake at
      // once, this process only polls for it after the stall, when the timer is already due.
      process.nextTick(() => stall(120));
    });
    expect(outcome).to.equal('connected');
  });

  it('a plain timer in the same situation reports a timeout (what IoDeadline avoids)', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => resolve('timeout'), 20);
      s.on('connect', () => {
        clearTimeout(timer);
        s.destroy();
        resolve('connected');
      });
      process.nextTick(() => stall(120));
    });
    expect(outcome).to.equal('timeout');
  });

  it('expires when nothing arrives, and says how late its timer fired', async () => {
    const late = await new Promise<number>((resolve) => {
      new IoDeadline(10, (e) => resolve(e.lateMs));
      setImmediate(() => stall(80));
    });
    expect(late).to.be.at.least(50);
  });

  it('until polls a condition and names it when it never comes', async () => {
    let n = 0;
    expect(
      await until(
        'three',
        async () => ++n,
        (v) => v >= 3,
        { pollMs: 1 },
      ),
    ).to.equal(3);
    let err: unknown;
    try {
      await until(
        'never',
        async () => 'no',
        () => false,
        { timeoutMs: 20, pollMs: 5 },
      );
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/never: not reached after 20 ms; last seen "no"/);
  });
});
