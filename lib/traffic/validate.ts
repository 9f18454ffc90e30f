/** Checks of traffic specs on the controller side, so mistakes surface as ValidationErrors with paths. */
import { isIP } from 'node:net';
import { ValidationError, type ValidationProblem } from '../errors.js';
import type { LongLivedSpec, ProbeSpec, ServerSpec } from './protocol.js';

type Check = (problems: ValidationProblem[], path: string, v: unknown) => void;

const intIn =
  (min: number, max: number): Check =>
  (problems, path, v) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) {
      problems.push({ path, value: String(v), message: `must be an integer in [${min}, ${max}]` });
    }
  };

const ip: Check = (problems, path, v) => {
  if (v !== undefined && (typeof v !== 'string' || isIP(v) === 0)) {
    problems.push({ path, value: String(v), message: 'must be an IPv4 or IPv6 address' });
  }
};

const port = intIn(1, 65535);
const positive = intIn(1, Number.MAX_SAFE_INTEGER);
const nonNegative = intIn(0, Number.MAX_SAFE_INTEGER);

function sourcePorts(
  problems: ValidationProblem[],
  s: Pick<ProbeSpec, 'localPort' | 'localPortRange'>,
): void {
  port(problems, 'localPort', s.localPort);
  if (s.localPortRange !== undefined) {
    const [lo, hi] = s.localPortRange;
    port(problems, 'localPortRange[0]', lo);
    port(problems, 'localPortRange[1]', hi);
    if (lo > hi)
      problems.push({ path: 'localPortRange', value: `[${lo}, ${hi}]`, message: 'lo must not exceed hi' });
    if (s.localPort !== undefined) {
      problems.push({
        path: 'localPortRange',
        value: `[${lo}, ${hi}]`,
        message: 'give localPort or localPortRange, not both',
      });
    }
  }
}

function throwIf(source: string, problems: ValidationProblem[]): void {
  if (problems.length > 0) throw new ValidationError(source, problems);
}

export function validateProbeSpec(s: ProbeSpec): void {
  const problems: ValidationProblem[] = [];
  if (!['tcp', 'http', 'udp'].includes(s.kind)) {
    problems.push({ path: 'kind', value: String(s.kind), message: 'must be tcp, http or udp' });
  }
  ip(problems, 'host', s.host ?? null);
  port(problems, 'port', s.port ?? null);
  positive(problems, 'attempts', s.attempts);
  positive(problems, 'concurrency', s.concurrency);
  positive(problems, 'deadlineMs', s.deadlineMs);
  positive(problems, 'answerMs', s.answerMs);
  nonNegative(problems, 'holdMs', s.holdMs);
  ip(problems, 'localAddress', s.localAddress);
  sourcePorts(problems, s);
  if (s.close !== undefined && s.close !== 'fin' && s.close !== 'rst') {
    problems.push({ path: 'close', value: String(s.close), message: 'must be fin or rst' });
  }
  throwIf('probe spec', problems);
}

export function validateServerSpec(s: ServerSpec): void {
  const problems: ValidationProblem[] = [];
  if (typeof s.name !== 'string' || s.name === '')
    problems.push({ path: 'name', value: String(s.name), message: 'must be a non-empty string' });
  if (!['tcp', 'http', 'udp', 'reset'].includes(s.kind)) {
    problems.push({ path: 'kind', value: String(s.kind), message: 'must be tcp, http, udp or reset' });
  }
  intIn(0, 65535)(problems, 'port', s.port ?? null);
  ip(problems, 'host', s.host);
  throwIf('server spec', problems);
}

export function validateLongLivedSpec(s: LongLivedSpec): void {
  const problems: ValidationProblem[] = [];
  ip(problems, 'host', s.host ?? null);
  port(problems, 'port', s.port ?? null);
  positive(problems, 'connections', s.connections);
  positive(problems, 'intervalMs', s.intervalMs);
  positive(problems, 'replyTimeoutMs', s.replyTimeoutMs);
  positive(problems, 'deadlineMs', s.deadlineMs);
  ip(problems, 'localAddress', s.localAddress);
  sourcePorts(problems, s);
  throwIf('long-lived spec', problems);
}
