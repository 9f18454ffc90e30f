/**
 * The JSON-lines protocol between a TrafficAgent (controller side) and its worker (inside a host).
 * One request per line on the worker's stdin, one response per line on its stdout, matched by id.
 * Shared types only: no behaviour lives here.
 */
import type { Outcome, Phase } from './outcome.js';

export type ServerKind = 'tcp' | 'http' | 'udp' | 'reset';
export type ProbeKind = 'tcp' | 'http' | 'udp';

export interface ServerSpec {
  /** Reported by the server in every answer, so a client can tell which server it reached. */
  name: string;
  kind: ServerKind;
  port: number;
  /** Bind address; default 0.0.0.0. */
  host?: string;
}

export interface ServerInfo {
  name: string;
  kind: ServerKind;
  host: string;
  port: number;
}

export interface ServerStopSpec {
  name: string;
  /** Reset (RST) every open connection instead of closing it with FIN. */
  reset?: boolean;
}

export interface ServerStopResult {
  name: string;
  /** Connections (or datagrams, for UDP) the server answered over its lifetime. */
  answered: number;
  /** Connections still open when it stopped. */
  openConnections: number;
}

/** What a server writes on accept (TCP), as the body (HTTP) or as the echo (UDP). */
export interface ServerAnswer {
  server: string;
  /** The client address as the server saw it: `ip:port`. */
  peer: string;
  /** The server's own address of the connection: `ip:port`. */
  local: string;
}

export interface ProbeSpec {
  kind: ProbeKind;
  host: string;
  port: number;
  /** Number of attempts; default 1. */
  attempts?: number;
  /** Attempts in flight at once; default 32. */
  concurrency?: number;
  /** Connect deadline in ms (UDP: the whole exchange); default 300. */
  deadlineMs?: number;
  /** Deadline for the server's answer once connected; default max(deadlineMs, 2000) (UDP: deadlineMs). */
  answerMs?: number;
  localAddress?: string;
  /** Fixed source port for every attempt (SO_REUSEADDR is set by libuv when binding). */
  localPort?: number;
  /** Source ports [lo, hi], attempt i uses lo + i mod (hi - lo + 1). */
  localPortRange?: readonly [number, number];
  /** Keep a connected attempt open this long after the answer before closing, so flows overlap. */
  holdMs?: number;
  /** How a connected attempt is closed: 'fin' (default) or 'rst' (no TIME_WAIT left behind). */
  close?: 'fin' | 'rst';
}

export interface Attempt {
  /** Attempt index in the batch. */
  i: number;
  outcome: Outcome;
  /** Where the attempt ended. */
  phase: Phase;
  /** Socket error code (ECONNREFUSED, ...), absent for connected and deadline timeouts. */
  errno?: string;
  /** The source address and port the client used, when the kernel assigned one. */
  localAddress?: string;
  localPort?: number;
  /** From the server's answer. */
  server?: string;
  peer?: string;
  serverLocal?: string;
  /** HTTP status of the answer (http probes). */
  status?: number;
  /** Start relative to the batch start, ms. */
  startMs: number;
  /** Time to connect, ms (TCP / HTTP, when connected). */
  connectMs?: number;
  /** Time from start to outcome, ms. */
  ms: number;
  /**
   * The deadline's timer fired this much later than scheduled (ms, reported from 50 ms): the
   * measuring process itself was not scheduled in time. The verdict does not rest on such a timer
   * alone: pending I/O is delivered before a deadline expires.
   */
  stallMs?: number;
  /** With holdMs: what happened to the connection while held. */
  held?: 'survived' | 'reset' | 'closed' | 'other';
}

export interface ProbeBatch {
  spec: ProbeSpec;
  /** Epoch ms when the batch started. */
  startedAt: number;
  elapsedMs: number;
  attempts: Attempt[];
}

export interface LongLivedSpec {
  host: string;
  port: number;
  /** Number of connections; default 1. */
  connections?: number;
  /** A small message is sent on every connection this often; default 200 ms. */
  intervalMs?: number;
  /** A connection whose oldest unanswered message is older than this is declared timed out; default max(3 × intervalMs, 2000). */
  replyTimeoutMs?: number;
  /** Connect deadline; default 300 ms. */
  deadlineMs?: number;
  localAddress?: string;
  localPort?: number;
  localPortRange?: readonly [number, number];
}

export type LongLivedState = 'open' | 'survived' | 'reset' | 'timeout' | 'closed' | 'error' | 'failed';

export interface LongLivedConnection {
  index: number;
  /**
   * open: alive now; survived: alive when the session stopped; reset / timeout / closed (FIN from the peer) /
   * error: how it died; failed: never connected (see connect).
   */
  state: LongLivedState;
  /** How the connection attempt went. */
  connect: Attempt;
  /** Epoch ms. */
  openedAt?: number;
  diedAt?: number;
  lastReplyAt?: number;
  /** diedAt − openedAt. */
  livedMs?: number;
  errno?: string;
  sent: number;
  replies: number;
}

export interface LongLivedReport {
  session: number;
  spec: LongLivedSpec;
  startedAt: number;
  stoppedAt?: number;
  connections: LongLivedConnection[];
}

export interface HelloResult {
  pid: number;
  node: string;
}

/** Method name → [params, result]. */
export interface Methods {
  hello: [Record<string, never>, HelloResult];
  'server.start': [ServerSpec, ServerInfo];
  'server.stop': [ServerStopSpec, ServerStopResult];
  probe: [ProbeSpec, ProbeBatch];
  'longLived.start': [LongLivedSpec, LongLivedReport];
  'longLived.status': [{ session: number }, LongLivedReport];
  'longLived.stop': [{ session: number }, LongLivedReport];
}

export type Method = keyof Methods;

export interface Request<M extends Method = Method> {
  id: number;
  method: M;
  params: Methods[M][0];
}

export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export type Response =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError };
