// The TCP listener (RFC 7766): several queries per connection answered as they complete (out of
// order), each reply framed in one write; idle connections close; a connection with too many
// queries in flight stops being read until some complete (back-pressure instead of unbounded
// memory); connections are capped globally and per client address.
import { createServer, type Server, type Socket } from 'node:net';
import { clientAddress } from './client-address.js';
import type { QueryHandler } from './query-handler.js';
import { FrameReader, FrameWriter } from './tcp-framing.js';
import { HEADER_LEN } from './wire.js';

export interface TcpServerLimits {
  readonly idleMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly maxInflightPerConnection: number;
}

export class TcpServer {
  private server: Server | undefined;
  private readonly perClient = new Map<string, number>();
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly handler: QueryHandler,
    private readonly limits: TcpServerLimits,
  ) {}

  listen(): Promise<{ address: string; port: number }> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.limits.maxConnections;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port, ipv6Only: this.host.includes(':') }, () => {
        server.off('error', reject);
        server.on('error', () => {});
        const a = server.address();
        if (a === null || typeof a === 'string') return reject(new Error('tcp listener has no address'));
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  }

  private accept(socket: Socket): void {
    const client = clientAddress(socket.remoteAddress ?? '');
    const count = (this.perClient.get(client) ?? 0) + 1;
    if (count > this.limits.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    this.perClient.set(client, count);
    this.sockets.add(socket);
    const reader = new FrameReader();
    const writer = new FrameWriter(socket);
    let inflight = 0;
    let paused = false;
    let closed = false;

    socket.setTimeout(this.limits.idleMs, () => {
      // Idle means nothing in flight; a connection waiting for answers is not idle.
      if (inflight === 0) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      this.sockets.delete(socket);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    });
    socket.on('data', (chunk) => {
      for (const msg of reader.push(chunk)) {
        if (msg.length < HEADER_LEN) {
          // Not even a header: there is no query to answer, and the stream cannot be trusted.
          socket.destroy();
          return;
        }
        inflight++;
        if (inflight >= this.limits.maxInflightPerConnection && !paused) {
          paused = true;
          socket.pause();
        }
        this.handler.handle(msg, client, 'tcp', (reply) => {
          inflight--;
          if (closed) return;
          if (reply !== undefined) writer.write(reply);
          if (paused && inflight < this.limits.maxInflightPerConnection) {
            paused = false;
            socket.resume();
          }
        });
      }
    });
  }
}
