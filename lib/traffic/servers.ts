/**
 * Servers that report the source they saw. They run inside a worker (one host) and use only
 * node:net, node:http and node:dgram.
 *
 * - tcp: on accept writes one JSON line (ServerAnswer), then echoes whatever the client sends
 *   (long-lived connections use that as a heartbeat) and keeps the connection until the client closes.
 * - http: the same JSON as the response body, any path and method; `Connection: close`.
 * - udp: echoes the JSON to the sender of every datagram (`local` is the bound address: node:dgram
 *   cannot see a datagram's destination, so bind to a specific address when that matters).
 * - reset: accepts and immediately resets the connection (RST).
 */
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { formatEndpoint } from './endpoint.js';
import type { ServerAnswer, ServerInfo, ServerSpec, ServerStopResult } from './protocol.js';

export interface RunningServer {
  readonly info: ServerInfo;
  stop(reset: boolean): Promise<ServerStopResult>;
}

export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const host = spec.host ?? '0.0.0.0';
  switch (spec.kind) {
    case 'tcp':
    case 'reset':
      return startStream(spec, host, createTcpServer({ noDelay: true }));
    case 'http':
      return startStream(spec, host, createHttpServer());
    case 'udp':
      return startUdp(spec, host);
  }
}

function answer(name: string, s: Socket): string {
  const a: ServerAnswer = {
    server: name,
    peer: formatEndpoint(s.remoteAddress, s.remotePort),
    local: formatEndpoint(s.localAddress, s.localPort),
  };
  return JSON.stringify(a) + '\n';
}

async function startStream(
  spec: ServerSpec,
  host: string,
  server: TcpServer | HttpServer,
): Promise<RunningServer> {
  const open = new Set<Socket>();
  let answered = 0;
  server.on('connection', (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    if (spec.kind === 'reset') {
      answered++;
      s.resetAndDestroy();
    } else if (spec.kind === 'tcp') {
      answered++;
      s.write(answer(spec.name, s));
      s.pipe(s);
    }
  });
  if (spec.kind === 'http') {
    (server as HttpServer).on('request', (req, res) => {
      answered++;
      const body = answer(spec.name, req.socket);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
      req.resume();
    });
  }
  server.listen({ host, port: spec.port, backlog: 4096 });
  await ready(server);
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : spec.port;
  return {
    info: { name: spec.name, kind: spec.kind, host, port },
    async stop(reset) {
      const openConnections = open.size;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) {
        if (reset) s.resetAndDestroy();
        else s.destroy();
      }
      await closed;
      return { name: spec.name, answered, openConnections };
    },
  };
}

/** Resolves once listening, rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, ...). */
async function ready(server: TcpServer | HttpServer | UdpSocket): Promise<void> {
  await once(server, 'listening');
}

async function startUdp(spec: ServerSpec, host: string): Promise<RunningServer> {
  const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
  let answered = 0;
  sock.on('message', (_msg, rinfo) => {
    answered++;
    const a: ServerAnswer = {
      server: spec.name,
      peer: formatEndpoint(rinfo.address, rinfo.port),
      local: formatEndpoint(sock.address().address, sock.address().port),
    };
    sock.send(JSON.stringify(a) + '\n', rinfo.port, rinfo.address);
  });
  sock.bind(spec.port, host);
  await ready(sock);
  sock.on('error', () => undefined);
  return {
    info: { name: spec.name, kind: 'udp', host, port: sock.address().port },
    async stop() {
      await new Promise<void>((resolve) => sock.close(() => resolve()));
      return { name: spec.name, answered, openConnections: 0 };
    },
  };
}
