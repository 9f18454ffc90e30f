/**
 * `npm run stress [-- --runs N] [--load N] [--results DIR]`: does any verdict depend on how busy the
 * machine is? Starts N busy-looping processes of its own (default two per core, so the CPUs are
 * saturated; stopped in `finally` and on SIGINT/SIGTERM), runs the full default `returnpath run`
 * several times under that load (default 5), one after the other, and compares the verdicts: a
 * cell whose verdict is not the same in every run is a flip. Prints the flips with each run's
 * reason and the first missed attempt's evidence, every non-passing cell, the wall time of each
 * run and the load averages seen; exits 1 when anything flipped. Needs root (it runs the lab).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunResults } from '../lib/scenario/result.js';
import { describeMiss } from '../lib/scenario/misses.js';

const BIN = fileURLToPath(new URL('../../bin/returnpath.js', import.meta.url));

interface Options {
  runs: number;
  load: number;
  results: string;
}

function options(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: { runs: { type: 'string' }, load: { type: 'string' }, results: { type: 'string' } },
  });
  const int = (v: string | undefined, def: number, name: string): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  return {
    runs: int(values.runs, 5, 'runs'),
    load: int(values.load, 2 * availableParallelism(), 'load'),
    results:
      values.results ??
      join('test-results', `stress-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`),
  };
}

/** Busy-looping processes: the load generator. */
class Load {
  private readonly children: ChildProcess[] = [];

  start(n: number): void {
    for (let i = 0; i < n; i++)
      this.children.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!).filter(Boolean);
  }

  stop(): void {
    for (const c of this.children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

/** One full default run in a process of its own, as a user runs it; resolves with its results. */
function fullRun(
  resultsRoot: string,
  runId: string,
  onChild: (c: ChildProcess | undefined) => void,
): Promise<number> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BIN, 'run', '--results', resultsRoot, '--run-id', runId], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onChild(child);
    child.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n'))
        if (/^\[\s*\d+\/\d+\] (?!pass)|^run |^returnpath run /.test(line)) console.log(`    ${line}`);
    });
    child.on('close', (code) => {
      onChild(undefined);
      resolveRun(code ?? 1);
    });
  });
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  const root = resolve(o.results);
  await mkdir(root, { recursive: true });
  const load = new Load();
  let current: ChildProcess | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    console.log('stress: interrupted; stopping the load and the run in flight (it tears its labs down)');
    load.stop();
    current?.kill('SIGINT');
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const runs: { id: string; code: number; seconds: number; load: number[] }[] = [];
  try {
    console.log(
      `stress: ${o.runs} full default runs under ${o.load} busy-looping processes on ${availableParallelism()} cores ` +
        `(load average before: ${loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}); results in ${root}`,
    );
    load.start(o.load);
    console.log(`stress: load generator pids ${load.pids.join(' ')}`);
    for (let k = 1; k <= o.runs && !interrupted; k++) {
      const id = `stress-${k}`;
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(loadavg()[0]!), 5000);
      const t0 = performance.now();
      console.log(`stress: run ${k}/${o.runs}`);
      const code = await fullRun(root, id, (c) => (current = c));
      clearInterval(sampler);
      const seconds = (performance.now() - t0) / 1000;
      runs.push({ id, code, seconds, load: samples });
      console.log(
        `stress: run ${k} exit ${code}, ${seconds.toFixed(1)} s, 1-min load average ` +
          `${samples.length ? `${Math.min(...samples).toFixed(1)}-${Math.max(...samples).toFixed(1)}` : 'n/a'}`,
      );
    }
  } finally {
    load.stop();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }

  const results: RunResults[] = [];
  for (const r of runs)
    try {
      results.push(JSON.parse(await readFile(join(root, r.id, 'results.json'), 'utf8')) as RunResults);
    } catch {
      console.log(`stress: ${r.id} left no results.json`);
    }
  const verdicts = new Map<string, { run: string; status: string; reason: string; miss?: string }[]>();
  for (const res of results)
    for (const c of res.cells) {
      const key = `${c.suite}/${c.id}`;
      const miss = c.misses?.[0];
      verdicts.set(key, [
        ...(verdicts.get(key) ?? []),
        {
          run: res.runId,
          status: c.status,
          reason: c.reason,
          ...(miss && { miss: `${describeMiss(miss)}: ${miss.evidence.slice(0, 3).join('; ')}` }),
        },
      ]);
    }
  const flips = [...verdicts].filter(
    ([, v]) => new Set(v.map((x) => x.status)).size > 1 || v.length < results.length,
  );
  const notPass = [...verdicts].filter(([, v]) => v.some((x) => x.status !== 'pass'));
  console.log('');
  console.log(
    `stress: ${results.length} runs of ${verdicts.size} cells under ${o.load} busy processes on ` +
      `${availableParallelism()} cores; wall ${runs.map((r) => `${r.seconds.toFixed(0)} s`).join(', ')}`,
  );
  console.log(`stress: ${flips.length} verdict flip(s); ${notPass.length} cell(s) not passing in some run`);
  for (const [key, v] of notPass) {
    console.log(
      `  ${flips.some(([k]) => k === key) ? 'FLIP' : 'SAME'} ${key}: ${v.map((x) => `${x.run}=${x.status}`).join(' ')}`,
    );
    for (const x of v.filter((y) => y.status !== 'pass')) {
      console.log(`      ${x.run}: ${x.reason}`);
      if (x.miss) console.log(`        first missed attempt: ${x.miss}`);
    }
  }
  if (interrupted) return 130;
  return flips.length === 0 && results.length === o.runs ? 0 : 1;
}

process.exitCode = await main();
