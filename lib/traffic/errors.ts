/** Errors thrown by the traffic layer's controller side (TrafficAgent). */

/**
 * The traffic worker on a host could not be started, died, or refused a request
 * (e.g. a server's bind failed: code EADDRINUSE / EADDRNOTAVAIL).
 */
export class TrafficWorkerError extends Error {
  override readonly name = 'TrafficWorkerError';
  constructor(
    /** The agent's name (usually the host id). */
    readonly agent: string,
    message: string,
    /** Errno-style code reported by the worker, when there is one. */
    readonly code?: string,
    /** The tail of the worker's stderr. */
    readonly stderr = '',
  ) {
    super(`traffic worker ${agent}: ${message}${stderr.trim() ? `\n${stderr.trim()}` : ''}`);
  }
}
