/** Sample results for the report tests: realistic cells of an ENI rp_filter suite and a chaos suite. */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { CellResult, RateSummary, RunResults } from '../scenario/result.js';
import { wilson } from '../verdict/wilson.js';
import { configText, countStatuses } from './cell-text.js';

/** Outcome → rate with the 95% Wilson interval, as the cell runner computes them. */
export function ratesOf(counts: Record<string, number>): Record<string, RateSummary> {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    Object.entries(counts).map(([o, n]) => [o, { count: n, rate: n / total, ...wilson(n, total) }]),
  );
}

const REPRO = (example: string, target: string): string[] => [
  `returnpath lab up examples/${example}.yaml --run-id repro`,
  `returnpath lab exec repro internet -- returnpath-probe connect ${target} --attempts 20`,
];

/** A cell of the eni-rp-filter suite; the configuration decides whether the path works. */
export function rpFilterCell(over: Partial<CellResult> & { id: string }): CellResult {
  const counts = over.counts ?? { connected: 200 };
  const attempts = Object.values(counts).reduce((a, b) => a + b, 0);
  const configuration = over.configuration ?? {
    cni: 'vpc-cni',
    rp_filter: 1,
    externalSNAT: false,
    sourceDestCheck: true,
  };
  return {
    suite: 'eni-rp-filter',
    title: `NLB to a pod on eth1, ${configText(configuration)}`,
    tags: ['conformance'],
    seeds: ['000'],
    configuration,
    pathWorks: true,
    explanation:
      'Replies from a pod on eth1 follow the ENI policy rule out of eth1; with rp_filter=1 the ' +
      'reverse-path check on eth0 drops the SYN because the route back to the client is via eth1.',
    expectation: 'all connected; server sees the client',
    flow: 'internet curl-loop -> web-nlb 198.51.100.200:80 (tcp)',
    status: 'pass',
    reason: `expected all connected: ${attempts}/${attempts} connected`,
    checks: [
      { name: 'outcome', status: 'pass', detail: `expected all connected, saw ${attempts}/${attempts}` },
      { name: 'source seen', status: 'pass', detail: 'expected 203.0.113.10, saw 203.0.113.10' },
    ],
    attempts,
    counts,
    rates: ratesOf(counts),
    sourcesSeen: { '203.0.113.10': counts['connected'] ?? 0 },
    evidence: [],
    reproduce: REPRO('seed-000-eni-rp-filter', '198.51.100.200:80'),
    startedAt: '2025-11-20T10:00:00.000Z',
    durationMs: 4210,
    ...over,
  };
}

/** A cell of the nlb-hairpin chaos suite with a timeline: rp_filter flipped on for 2 s. */
export function chaosCell(over: Partial<CellResult> = {}): CellResult {
  const samples = Array.from({ length: 60 }, (_, i) => {
    const t = i * 100;
    const inWindow = t >= 2000 && t < 4000;
    return { t, outcome: inWindow ? 'timeout' : 'connected', ms: inWindow ? 1000 : 2 + (i % 5) };
  });
  const counts = { connected: 40, timeout: 20 };
  return {
    suite: 'nlb-hairpin',
    id: 'rp-filter-flip',
    title: 'rp_filter flipped under load',
    tags: ['Chaos', 'Disruptive'],
    seeds: ['001'],
    configuration: { cni: 'vpc-cni', preserveClientIp: true, fault: 'rp_filter' },
    pathWorks: true,
    explanation:
      'While rp_filter=1 is set on eth1 the replies of new flows are dropped; they recover once reverted.',
    expectation: 'timeout rate in [0%, 50%]; recovers within 1 s',
    flow: 'internet curl-loop -> web-nlb 198.51.100.200:80 (tcp)',
    status: 'pass',
    reason: 'expected timeout rate in [0%, 50%]: 20/60 timeout = 33.3% inside',
    checks: [
      { name: 'outcome', status: 'pass', detail: 'timeout 33.3% [22.7%, 45.9%] inside [0%, 50%]' },
      { name: 'recovery', status: 'pass', detail: 'recovered after 0 ms, expected < 1000 ms' },
    ],
    attempts: 60,
    counts,
    rates: ratesOf(counts),
    sourcesSeen: { '203.0.113.10': 40 },
    evidence: [
      {
        kind: 'drop',
        host: 'node-a',
        summary: 'rp_filter drops on eth1: +20',
        count: 20,
        reason: 'rp_filter',
      },
    ],
    reproduce: REPRO('seed-001-hairpin', '198.51.100.200:80'),
    timeline: {
      samples,
      windows: [{ label: 'rp_filter=1 on node-a/eth1', from: 2000, to: 4000 }],
      metrics: {
        attemptsOutside: 40,
        failureRateOutside: 0,
        attemptsUnderFault: 20,
        failuresUnderFault: 20,
        attemptsAfterRevert: 20,
        failuresAfterRevert: 0,
        windowMs: 2000.4444,
        recoveryMs: 0,
        'longLived.ssh-like.diedMs': null,
        'longLived.ssh-2.diedMs': 2101.5,
      },
      longLived: { 'ssh-like': 'survived', 'ssh-2': 'reset' },
    },
    startedAt: '2025-11-20T10:01:00.000Z',
    durationMs: 6100,
    ...over,
  };
}

/** Cells over the rp_filter x externalSNAT x sourceDestCheck matrix (every status), and a chaos cell. */
export function sampleCells(): CellResult[] {
  return [
    rpFilterCell({
      id: 'rp0',
      configuration: { cni: 'vpc-cni', rp_filter: 0, externalSNAT: false, sourceDestCheck: true },
    }),
    rpFilterCell({
      id: 'rp1',
      pathWorks: false,
      mechanism: 'rp_filter',
      expectation: 'all timeout; server sees nothing; drops by rp_filter on node-a',
      counts: { timeout: 200 },
      reason: 'expected all timeout: 200/200 timeout',
      checks: [{ name: 'outcome', status: 'pass', detail: 'expected all timeout, saw 200/200' }],
      sourcesSeen: {},
      evidence: [
        {
          kind: 'drop',
          host: 'node-a',
          summary: 'IPReversePathFilter +200',
          count: 200,
          reason: 'rp_filter',
        },
      ],
      durationMs: 20480,
    }),
    rpFilterCell({
      id: 'rp2',
      configuration: { cni: 'vpc-cni', rp_filter: 2, externalSNAT: false, sourceDestCheck: true },
    }),
    rpFilterCell({
      id: 'rp1-snat',
      configuration: { cni: 'vpc-cni', rp_filter: 1, externalSNAT: true, sourceDestCheck: true },
      status: 'fail',
      counts: { connected: 12, timeout: 188 },
      reason: 'expected all connected: 12/200 connected, 188 not',
      checks: [
        { name: 'outcome', status: 'fail', detail: 'expected all connected, saw 12/200' },
        { name: 'source seen', status: 'pass', detail: 'expected 203.0.113.10, saw 203.0.113.10' },
      ],
      sourcesSeen: { '203.0.113.10': 12 },
      misses: [
        {
          i: 3,
          outcome: 'timeout',
          phase: 'connect',
          from: '203.0.113.10:41234',
          to: '198.51.100.200:80',
          startedAt: '2025-11-20T10:00:01.000Z',
          ms: 250.4,
          evidence: [
            'conntrack nlb/web-nlb/az-a: tcp SYN_SENT 203.0.113.10:41234 -> 198.51.100.200:80 | reply 10.0.1.50:8080 -> 203.0.113.10:41234 [UNREPLIED]',
          ],
        },
      ],
      evidence: [
        {
          kind: 'drop',
          host: 'node-a',
          summary: 'IPReversePathFilter +188',
          count: 188,
          reason: 'rp_filter',
        },
        { kind: 'conntrack', host: 'node-a', summary: '188 entries in SYN_RECV toward 203.0.113.10' },
      ],
    }),
    rpFilterCell({
      id: 'rp1-sdc-off',
      configuration: { cni: 'vpc-cni', rp_filter: 1, externalSNAT: false, sourceDestCheck: false },
      expectation: 'reset rate in [0%, 10%]',
      status: 'inconclusive',
      counts: { connected: 27, reset: 3 },
      reason:
        'expected reset rate in [0%, 10%]: 3/30 reset = 10%, 95% interval [3.5%, 25.6%] overlaps the bounds',
      checks: [{ name: 'outcome', status: 'inconclusive', detail: 'reset 10% [3.5%, 25.6%] vs [0%, 10%]' }],
      sourcesSeen: { '203.0.113.10': 27 },
      evidence: [{ kind: 'reset', host: 'netshoot', summary: '3 RST from 10.0.1.50:8080' }],
    }),
    rpFilterCell({
      id: 'rp0-snat',
      configuration: { cni: 'vpc-cni', rp_filter: 0, externalSNAT: true, sourceDestCheck: true },
      status: 'error',
      counts: {},
      reason: 'the lab did not come up',
      checks: [],
      sourcesSeen: {},
      error: 'command failed (exit 2): ip netns add rp-c0ffee-node-a\nRTNETLINK answers: File exists',
      durationMs: 310,
    }),
    rpFilterCell({
      id: 'rp1-legacy',
      configuration: { cni: 'vpc-cni-legacy', rp_filter: 1, externalSNAT: false },
      pathWorks: false,
      mechanism: 'rp_filter',
      expectation: 'all timeout',
      counts: { timeout: 50 },
      reason: 'expected all timeout: 50/50 timeout',
      sourcesSeen: {},
    }),
    rpFilterCell({
      id: 'rp1-udp',
      configuration: {
        cni: 'vpc-cni',
        rp_filter: 1,
        externalSNAT: false,
        sourceDestCheck: true,
        protocol: 'udp',
      },
      pathWorks: false,
      expectation: 'no connected',
      counts: { other: 40 },
      reason: 'expected no connected: 0/40 connected',
      checks: [{ name: 'outcome', status: 'pass', detail: 'expected no connected, saw 0/40' }],
      sourcesSeen: {},
      flow: 'internet udp-echo -> web-nlb 198.51.100.200:53 (udp)',
    }),
    chaosCell(),
  ];
}

/** A planned cell that never ran (an interrupted run). */
export function notRunCell(id: string, configuration: CellResult['configuration'], pathWorks = true) {
  return { suite: 'eni-rp-filter', id, title: `not run: ${id}`, configuration, pathWorks };
}

export function sampleRun(cells: CellResult[] = sampleCells()): RunResults {
  return {
    schema: 'returnpath/results/v1',
    runId: 'run-20251120-c0ffee',
    startedAt: '2025-11-20T09:59:58.000Z',
    finishedAt: '2025-11-20T10:02:10.500Z',
    state: 'complete',
    host: { kernel: '6.8.0-45-generic', node: 'v20.20.2', platform: 'linux' },
    returnpath: { version: '0.1.0', commit: '0123456789abcdef0123456789abcdef01234567', dirty: false },
    selection: { suites: ['eni-rp-filter', 'nlb-hairpin'] },
    suites: [
      {
        id: 'eni-rp-filter',
        title: 'Pods on secondary ENIs behind an NLB',
        rows: ['cni', 'rp_filter'],
        columns: ['externalSNAT', 'sourceDestCheck'],
      },
      { id: 'nlb-hairpin', title: 'NLB hairpin under faults', rows: ['fault'], columns: [] },
    ],
    cells,
    totals: countStatuses(cells),
  };
}

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** Compare with lib/report/testdata/<name>.golden; UPDATE_GOLDEN=1 rewrites it. */
export async function expectGolden(name: string, actual: string): Promise<void> {
  const file = `${repo}lib/report/testdata/${name}.golden`;
  if (process.env['UPDATE_GOLDEN']) await writeFile(file, actual);
  const expected = await readFile(file, 'utf8');
  expect(actual).to.equal(expected, `${file} differs; rerun with UPDATE_GOLDEN=1 to accept`);
}
