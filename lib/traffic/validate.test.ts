import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import { validateLongLivedSpec, validateProbeSpec, validateServerSpec } from './validate.js';
import type { ProbeSpec } from './protocol.js';

function problems(fn: () => void): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map(({ path, message }) => ({ path, message }));
    throw e;
  }
  return [];
}

describe('traffic spec validation', () => {
  it('accepts a full probe spec', () => {
    const spec: ProbeSpec = {
      kind: 'tcp',
      host: '10.0.0.1',
      port: 80,
      attempts: 10,
      concurrency: 2,
      deadlineMs: 300,
      localAddress: '10.0.0.2',
      localPortRange: [40000, 40010],
      holdMs: 0,
      close: 'rst',
    };
    expect(problems(() => validateProbeSpec(spec))).to.deep.equal([]);
  });

  it('names every problem of a probe spec', () => {
    const bad = {
      kind: 'icmp',
      host: 'web',
      port: 0,
      attempts: 0,
      localPort: 1,
      localPortRange: [5, 4],
    } as unknown as ProbeSpec;
    expect(problems(() => validateProbeSpec(bad)).map((p) => p.path)).to.deep.equal([
      'kind',
      'host',
      'port',
      'attempts',
      'localPortRange',
      'localPortRange',
    ]);
  });

  it('checks server and long-lived specs', () => {
    expect(problems(() => validateServerSpec({ name: 'w', kind: 'tcp', port: 0 }))).to.deep.equal([]);
    expect(
      problems(() => validateServerSpec({ name: '', kind: 'tcp', port: 70000, host: 'x' })).map(
        (p) => p.path,
      ),
    ).to.deep.equal(['name', 'port', 'host']);
    expect(
      problems(() => validateLongLivedSpec({ host: '10.0.0.1', port: 80, intervalMs: 0 })),
    ).to.deep.equal([{ path: 'intervalMs', message: 'must be an integer in [1, 9007199254740991]' }]);
  });
});
