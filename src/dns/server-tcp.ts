// The TCP listener (RFC 7766): several queries per connection answered as they complete (out of
// order), each reply framed in one write; connections are capped globally and per client address.
//
// Nothing a client does may grow the proxy's memory or hold a connection forever:
// - a connection with too many queries in flight, or whose answers the client is not taking
//   (write buffer above the soft limit), is not read until that clears; above the hard limit it
//   is closed;
// - a message whose first byte arrived must be complete within the frame timeout (the idle timer
//   alone resets on every byte, so a byte at a time would hold a connection forever);
// - a connection lives at most the lifetime limit, then is no longer read and closes once its
//   answers are written;
// - a connection with nothing in flight closes when idle.
import { createServer, type Server, type Socket } from 'node:net';
import { clientAddress } from './client-address.js';
import { DEFAULT_DNS_PROXY_CONFIG } from './config.js';
import type { QueryHandler } from './query-handler.js';
import { FrameReader, FrameWriter } from './tcp-framing.js';
import { HEADER_LEN } from './wire.js';

export interface TcpServerLimits {
  readonly idleMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly maxInflightPerConnection: number;
  /** Defaults: the DnsProxyConfig defaults of tcpFrameTimeoutMs, tcpMaxConnectionLifetimeMs, ... */
  readonly frameTimeoutMs?: number;
  readonly maxLifetimeMs?: number;
  readonly writeBufferSoftBytes?: number;
  readonly writeBufferHardBytes?: number;
}

/** Why connections were closed by the server, and the write buffering seen (for tests and metrics). */
export interface TcpServerStats {
  readonly connections: number;
  readonly frameTimeouts: number;
  readonly lifetimeCloses: number;
  readonly idleCloses: number;
  readonly badFrames: number;
  readonly writeBufferCloses: number;
  /** Times a connection stopped being read because its client was not taking its answers. */
  readonly writePauses: number;
  /** Largest write buffer any connection had right after an answer was queued. */
  readonly peakWriteBufferBytes: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class TcpServer {
  private server: Server | undefined;
  private readonly perClient = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly counters: Mutable<Omit<TcpServerStats, 'connections'>> = {
    frameTimeouts: 0,
    lifetimeCloses: 0,
    idleCloses: 0,
    badFrames: 0,
    writeBufferCloses: 0,
    writePauses: 0,
    peakWriteBufferBytes: 0,
  };
  private readonly frameTimeoutMs: number;
  private readonly maxLifetimeMs: number;
  private readonly softBytes: number;
  private readonly hardBytes: number;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly handler: QueryHandler,
    private readonly limits: TcpServerLimits,
  ) {
    const d = DEFAULT_DNS_PROXY_CONFIG;
    this.frameTimeoutMs = limits.frameTimeoutMs ?? d.tcpFrameTimeoutMs;
    this.maxLifetimeMs = limits.maxLifetimeMs ?? d.tcpMaxConnectionLifetimeMs;
    this.softBytes = limits.writeBufferSoftBytes ?? d.tcpWriteBufferSoftBytes;
    this.hardBytes = limits.writeBufferHardBytes ?? d.tcpWriteBufferHardBytes;
  }

  listen(): Promise<{ address: string; port: number }> {
    // Half-open allowed: a client may send its queries and then its FIN, and still be answered.
    const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
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

  get stats(): TcpServerStats {
    return { connections: this.sockets.size, ...this.counters };
  }

  /** Answers queued in the proxy and not yet taken by the kernel, over all connections. */
  get bufferedBytes(): number {
    let n = 0;
    for (const s of this.sockets) n += s.writableLength;
    return n;
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
    const counters = this.counters;
    const { maxInflightPerConnection, idleMs } = this.limits;
    const { frameTimeoutMs, softBytes, hardBytes } = this;
    const reader = new FrameReader();
    const writer = new FrameWriter(socket);
    let inflight = 0;
    let reading = true;
    // Messages of an already-read chunk not dispatched yet: one chunk can hold thousands of
    // queries, and the limits must hold within a chunk too.
    let backlog: Buffer[] = [];
    let backlogAt = 0;
    let closing = false;
    let writeBlocked = false;
    let closed = false;
    // When the frame now being received started (0: none), for the frame deadline.
    let frameStart = 0;
    let frameTimer: NodeJS.Timeout | undefined;

    const onFrameTimer = (): void => {
      if (closed || frameStart === 0 || !reading) return;
      const left = frameStart + frameTimeoutMs - Date.now();
      if (left > 0) {
        frameTimer = setTimeout(onFrameTimer, left);
        return;
      }
      counters.frameTimeouts++;
      kill();
    };
    const kill = (): void => {
      closed = true;
      socket.destroy();
    };
    const armFrameTimer = (): void => {
      if (frameTimer === undefined) frameTimer = setTimeout(onFrameTimer, frameTimeoutMs);
      else frameTimer.refresh();
    };
    let finishing = false;
    const finishSoon = (): void => {
      if (finishing || closed) return;
      finishing = true;
      // Whatever the client does with its half of the connection, it is gone after idleMs.
      socket.end();
      setTimeout(() => socket.destroy(), idleMs).unref();
    };
    // Messages already read are answered even when closing; only new reading stops.
    const mayDispatch = (): boolean => inflight < maxInflightPerConnection && socket.writableLength <= softBytes;
    const idleNow = (): boolean => inflight === 0 && backlogAt === backlog.length;
    // Replies the handler gives synchronously (FORMERR, NOTIMP, REFUSED) arrive inside dispatch;
    // they must not re-enter it, or one chunk of such queries nests a call per message.
    let dispatching = false;
    /** Dispatch backlogged messages while the limits allow. False when the connection was closed. */
    const dispatch = (): boolean => {
      dispatching = true;
      try {
        while (backlogAt < backlog.length && mayDispatch()) {
          const msg = backlog[backlogAt++]!;
          if (msg.length < HEADER_LEN) {
            // Not even a header: there is no query to answer, and the stream cannot be trusted.
            counters.badFrames++;
            kill();
            return false;
          }
          inflight++;
          this.handler.handle(msg, client, 'tcp', onReply);
          if (closed) return false;
        }
      } finally {
        dispatching = false;
      }
      if (backlogAt === backlog.length) {
        backlog = [];
        backlogAt = 0;
      }
      if (closing && idleNow()) finishSoon();
      return true;
    };
    // Read only while the client's queries and unread answers are within limits.
    const updateReading = (): void => {
      if (closed) return;
      if (backlogAt < backlog.length && !dispatch()) return;
      const over = socket.writableLength > softBytes;
      if (over && !writeBlocked) counters.writePauses++;
      writeBlocked = over;
      const should = !closing && backlogAt === backlog.length && mayDispatch();
      if (should === reading) return;
      reading = should;
      if (should) {
        socket.resume();
        // Time spent not reading is the server's choice, not the client's: the frame restarts.
        if (frameStart !== 0) {
          frameStart = Date.now();
          armFrameTimer();
        }
      } else {
        socket.pause();
      }
    };
    const lifetime = setTimeout(() => {
      counters.lifetimeCloses++;
      closing = true;
      updateReading();
      if (idleNow()) finishSoon();
    }, this.maxLifetimeMs);

    socket.setTimeout(idleMs, () => {
      // Idle means nothing in flight; a connection waiting for answers is not idle.
      if (inflight === 0) {
        counters.idleCloses++;
        kill();
      }
    });
    socket.on('error', () => {});
    socket.on('drain', updateReading);
    socket.on('end', () => {
      // The client has sent everything: answer what was read, then close our side.
      closing = true;
      if (idleNow()) finishSoon();
    });
    socket.on('close', () => {
      closed = true;
      clearTimeout(lifetime);
      clearTimeout(frameTimer);
      this.sockets.delete(socket);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    });
    function onReply(reply: Buffer | undefined): void {
      inflight--;
      if (closed) return;
      if (reply !== undefined) {
        writer.write(reply);
        const queued = socket.writableLength;
        if (queued > counters.peakWriteBufferBytes) counters.peakWriteBufferBytes = queued;
        if (queued > hardBytes) {
          counters.writeBufferCloses++;
          kill();
          return;
        }
      }
      // Inside dispatch its loop goes on and its caller re-evaluates reading once, afterwards.
      if (dispatching) return;
      updateReading();
      if (closing && idleNow()) finishSoon();
    }
    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      const msgs = reader.push(chunk);
      if (msgs.length > 0) {
        // Only reached while reading, that is with an empty backlog.
        backlog = msgs;
        backlogAt = 0;
        if (!dispatch()) return;
      }
      updateReading();
      if (reader.buffered === 0) frameStart = 0;
      else if (frameStart === 0 || msgs.length > 0) {
        // A frame started in this chunk (the previous one, if any, just completed).
        frameStart = Date.now();
        armFrameTimer();
      }
    });
  }
}
