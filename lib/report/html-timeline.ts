/**
 * A chaos cell's timeline as inline SVG: one band per outcome, one dot per attempt at its start
 * time (connected green, anything else red), the fault windows shaded and labelled.
 */
import type { Timeline, TimelineSample, TimelineWindow } from '../scenario/result.js';
import { orderOutcomes } from './cell-text.js';
import { markup, type Html } from './escape.js';

const WIDTH = 640;
const LEFT = 88;
const RIGHT = 16;
const TOP = 20;
const BAND = 24;
const AXIS = 22;

interface Scale {
  x(t: number): number;
  y(outcome: string): number;
  top: number;
  bottom: number;
}

export function timelineSvg(timeline: Timeline): Html {
  const outcomes = orderOutcomes(['connected', ...timeline.samples.map((s) => s.outcome)]);
  const end = Math.max(1, ...timeline.samples.map((s) => s.t), ...timeline.windows.map((w) => w.to));
  const bottom = TOP + outcomes.length * BAND;
  const scale: Scale = {
    x: (t) => LEFT + (Math.min(Math.max(t, 0), end) / end) * (WIDTH - LEFT - RIGHT),
    y: (o) => TOP + outcomes.indexOf(o) * BAND + BAND / 2,
    top: TOP,
    bottom,
  };
  const height = bottom + AXIS;
  const label =
    `attempts over ${num(end / 1000)} s: ${timeline.samples.length} attempts, ` +
    `${timeline.windows.length} fault window(s)`;
  const svg = markup`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${label}">`;
  return markup`${svg}
${timeline.windows.map((w) => faultWindow(w, scale))}
${outcomes.map((o) => band(o, scale))}
${timeline.samples.map((s) => dot(s, scale))}
${axis([0, end / 2, end], scale)}
</svg>`;
}

function faultWindow(w: TimelineWindow, s: Scale): Html {
  const x = num(s.x(w.from));
  const width = num(Math.max(1, s.x(w.to) - s.x(w.from)));
  const rect = markup`<rect x="${x}" y="${s.top}" width="${width}" height="${s.bottom - s.top}"/>`;
  return markup`<g class="window">${rect}<text x="${x}" y="${s.top - 6}">${w.label}</text></g>`;
}

function band(outcome: string, s: Scale): Html {
  const y = s.y(outcome);
  const line = markup`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y}" y2="${y}"/>`;
  return markup`<g class="band">${line}<text x="${LEFT - 6}" y="${y + 4}">${outcome}</text></g>`;
}

function dot(sample: TimelineSample, s: Scale): Html {
  const tip = `${num(sample.t)} ms: ${sample.outcome} (${num(sample.ms)} ms)`;
  const cls = sample.outcome === 'connected' ? 'ok' : 'bad';
  const at = markup`cx="${num(s.x(sample.t))}" cy="${s.y(sample.outcome)}"`;
  return markup`<circle class="${cls}" ${at} r="2.5"><title>${tip}</title></circle>`;
}

function axis(ticks: number[], s: Scale): Html {
  const labels = ticks.map(
    (t) => markup`<text class="tick" x="${num(s.x(t))}" y="${s.bottom + 15}">${num(t / 1000)} s</text>`,
  );
  return markup`<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${s.bottom}" y2="${s.bottom}"/>${labels}`;
}

/** Short and deterministic: at most one decimal. */
function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}
