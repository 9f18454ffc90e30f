import { expect } from 'chai';
import { validateTopology } from '../model/topology.js';
import { suiteById } from '../../suites/catalog.js';
import { resolveFlow } from './flow.js';
import { reproduceLines } from './reproduce.js';

describe('reproduce lines', () => {
  it('bring the cell back, probe its flow as the cell did, dump and remove it; no path of this machine', () => {
    const cell = suiteById('cross-zone-collision').cells.find((c) => c.id === 'cross-zone-on.preserve-on')!;
    const flow = resolveFlow(validateTopology(cell.topology), cell.flow);
    expect(reproduceLines(cell, flow, 'abc123', { kind: 'builtin' })).to.deep.equal([
      "returnpath run --suite cross-zone-collision --grep 'cross-zone-on\\.preserve-on:'",
      'returnpath lab up --cell cross-zone-collision/cross-zone-on.preserve-on --run-id abc123',
      'returnpath lab probe abc123 bastion tcp 10.0.1.100,10.0.2.100 80 --deadline 250 --attempts 40 ' +
        '--concurrency 40 --local-ports 40000-40039 --hold 300 --close rst',
      'returnpath lab dump abc123',
      'returnpath lab down abc123',
    ]);
  });

  it('a cell of a suite file names the file as given', () => {
    const cell = suiteById('baseline').cells.find((c) => c.id === 'nlb.ip')!;
    const flow = resolveFlow(validateTopology(cell.topology), cell.flow);
    const lines = reproduceLines(cell, flow, 'abc123', { kind: 'file', path: 'my suites/x.yaml' });
    expect(lines[0]).to.equal("returnpath run --file 'my suites/x.yaml' --suite baseline --grep 'nlb\\.ip:'");
    expect(lines[1]).to.equal(
      "returnpath lab up --file 'my suites/x.yaml' --cell baseline/nlb.ip --run-id abc123",
    );
    expect(lines[2]).to.equal(
      'returnpath lab probe abc123 laptop tcp 198.51.100.204,198.51.100.205 80 --deadline 250 --attempts 12',
    );
  });

  it('a cell that ran on real components repeats how, on run and on lab up --cell', () => {
    const cell = suiteById('baseline').cells.find((c) => c.id === 'nlb.ip')!;
    const flow = resolveFlow(validateTopology(cell.topology), cell.flow);
    const [run, up] = reproduceLines(
      cell,
      flow,
      'abc123',
      { kind: 'builtin' },
      {
        cni: ['--cni', 'real'],
        kubeProxyMode: 'nftables',
      },
    );
    expect(run).to.equal(
      "returnpath run --suite baseline --grep 'nlb\\.ip:' --cni real --kube-proxy real --kube-proxy-mode nftables",
    );
    expect(up).to.equal(
      'returnpath lab up --cell baseline/nlb.ip --run-id abc123 --cni real --kubernetes --kube-proxy-mode nftables',
    );
    const [, iptablesUp] = reproduceLines(
      cell,
      flow,
      'abc123',
      { kind: 'builtin' },
      { kubeProxyMode: 'iptables' },
    );
    expect(iptablesUp).to.equal('returnpath lab up --cell baseline/nlb.ip --run-id abc123 --kubernetes');
  });
});
