import { expect } from 'chai';
import { formatAttempt, parseProbeArgs } from './probe-cli.js';
import { probeCliArgv } from './agent.js';

describe('probe-cli', () => {
  it('parses a full command line', () => {
    const { spec, json } = parseProbeArgs([
      'tcp',
      '10.0.1.5',
      '80',
      '--deadline',
      '300',
      '--local-address',
      '10.0.0.9',
      '--local-ports',
      '40000-40009',
      '--hold',
      '50',
      '--close',
      'rst',
      '--json',
    ]);
    expect(spec).to.deep.equal({
      kind: 'tcp',
      host: '10.0.1.5',
      port: 80,
      deadlineMs: 300,
      localAddress: '10.0.0.9',
      holdMs: 50,
      close: 'rst',
      localPortRange: [40000, 40009],
    });
    expect(json).to.equal(true);
  });

  it('rejects bad input with the flag named', () => {
    expect(() => parseProbeArgs(['sctp', '10.0.0.1', '80'])).to.throw(/KIND/);
    expect(() => parseProbeArgs(['tcp', '10.0.0.1', '70000'])).to.throw(/PORT/);
    expect(() => parseProbeArgs(['tcp', '10.0.0.1', '80', '--deadline', 'soon'])).to.throw(/--deadline/);
    expect(() => parseProbeArgs(['tcp', '10.0.0.1'])).to.throw(/KIND HOST PORT/);
  });

  it('round-trips the argv an agent prints for an attempt', () => {
    const spec = {
      kind: 'udp' as const,
      host: '10.99.0.2',
      port: 53,
      deadlineMs: 250,
      localPortRange: [41000, 41003] as const,
    };
    const argv = probeCliArgv(['/usr/bin/node', '/x/probe-cli.js'], spec, { i: 6 } as never);
    expect(argv).to.deep.equal([
      '/usr/bin/node',
      '/x/probe-cli.js',
      'udp',
      '10.99.0.2',
      '53',
      '--deadline',
      '250',
      '--local-port',
      '41002',
    ]);
    expect(parseProbeArgs(argv.slice(2)).spec).to.deep.equal({
      kind: 'udp',
      host: '10.99.0.2',
      port: 53,
      deadlineMs: 250,
      localPort: 41002,
    });
  });

  it('formats an attempt on one line', () => {
    const line = formatAttempt({
      i: 0,
      outcome: 'connected',
      phase: 'answer',
      localAddress: '10.99.0.1',
      localPort: 40000,
      server: 'web',
      peer: '10.99.0.1:40000',
      startMs: 0,
      connectMs: 0.2,
      ms: 0.4,
    });
    expect(line).to.equal(
      '#0 connected phase=answer src=10.99.0.1:40000 server=web server-saw=10.99.0.1:40000 connect=0.2ms total=0.4ms',
    );
  });
});
