/**
 * What one connection attempt came to. The names are the suite's vocabulary: expectations,
 * verdicts and reports all speak in these outcomes.
 */
export const OUTCOMES = ['connected', 'timeout', 'reset', 'refused', 'unreachable', 'other'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Where in the attempt it ended: establishing the connection, or waiting for the server's answer. */
export type Phase = 'connect' | 'answer';

/**
 * Map a socket error code to an outcome.
 * - ECONNREFUSED: an RST (or ICMP port unreachable for UDP) answered the SYN / datagram.
 * - ECONNRESET / EPIPE: the connection was established, then reset.
 * - EHOSTUNREACH / ENETUNREACH / EHOSTDOWN: no route, an `unreachable` route, or an ICMP unreachable.
 * - ETIMEDOUT: the kernel gave up retransmitting (only with deadlines longer than the SYN retries).
 */
export function classifyErrno(code: string | undefined): Outcome {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'other';
  }
}

export function isOutcome(s: string): s is Outcome {
  return (OUTCOMES as readonly string[]).includes(s);
}
