// Upstream queries over TCP (for queries that reached the proxy over TCP, RFC 7766): a few
// persistent connections per upstream, pipelined, answers matched by ID and question whatever
// their order. A connection that closes fails its outstanding queries so the caller can retry.
// A connection on which a query timed out without anything at all arriving since that query was
// written is stalled (upstream wedged, state lost on a middlebox): it is closed, failing its other
// queries too, so that no later query is sent into it. One that still delivers answers is only
// slow for that name and is kept.
import { connect, type Socket } from 'node:net';
import { FrameReader, FrameWriter } from './tcp-framing.js';
import type { RandomSource } from './random.js';
import type { UpstreamAddr } from './upstream-addr.js';
import type { DropReason, SendFailure, UpstreamCallback } from './upstream-udp.js';
import { HEADER_LEN, isResponse, messageId, sameQuestion, setMessageId, type Question } from './wire.js';

export interface TcpPoolOptions {
  readonly connectionsPerUpstream: number;
  readonly maxPendingPerConnection: number;
  /** Close a connection that has had nothing outstanding for this long. */
  readonly idleMs: number;
  readonly random: RandomSource;
  readonly onDrop: (reason: DropReason, from: string) => void;
}

interface Pending {
  readonly id: number;
  readonly conn: Conn;
  readonly query: Buffer;
  readonly q: Question;
  readonly cb: UpstreamCallback;
  readonly sentAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface Conn {
  readonly upstream: UpstreamAddr;
  readonly socket: Socket;
  readonly reader: FrameReader;
  readonly writer: FrameWriter;
  readonly pending: Map<number, Pending>;
  idle: NodeJS.Timeout | undefined;
  dead: boolean;
  /** When bytes last arrived (0: never). */
  lastRx: number;
}

export class TcpUpstreamPool {
  private readonly conns = new Map<string, Conn[]>();
  private next = 0;
  private closed = false;
  private stallCount = 0;

  constructor(private readonly opts: TcpPoolOptions) {}

  send(upstream: UpstreamAddr, query: Buffer, q: Question, timeoutMs: number, cb: UpstreamCallback): void {
    if (this.closed) return cb(undefined, 'shutdown');
    const conn = this.pickConn(upstream);
    if (conn === undefined) return cb(undefined, 'busy');
    let id = this.opts.random.u16();
    while (conn.pending.has(id)) id = this.opts.random.u16();
    setMessageId(query, id);
    const p: Pending = { id, conn, query, q, cb, sentAt: Date.now(), timer: undefined };
    p.timer = setTimeout(() => this.onTimeout(p), timeoutMs);
    conn.pending.set(id, p);
    if (conn.idle !== undefined) {
      clearTimeout(conn.idle);
      conn.idle = undefined;
    }
    conn.writer.write(query);
  }

  get connections(): number {
    let n = 0;
    for (const list of this.conns.values()) n += list.length;
    return n;
  }

  /** Connections closed because a query timed out with nothing received on them meanwhile. */
  get stalls(): number {
    return this.stallCount;
  }

  close(): void {
    this.closed = true;
    for (const list of [...this.conns.values()]) for (const c of [...list]) this.kill(c, 'shutdown');
  }

  private pickConn(upstream: UpstreamAddr): Conn | undefined {
    let list = this.conns.get(upstream.label);
    if (list === undefined) this.conns.set(upstream.label, (list = []));
    // Open connections up to the limit before sharing, then use the least loaded one.
    if (list.length < this.opts.connectionsPerUpstream) {
      const fresh = list.find((c) => c.pending.size === 0);
      if (fresh !== undefined) return fresh;
      const c = this.open(upstream);
      list.push(c);
      return c;
    }
    let best: Conn | undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[(this.next + i) % list.length]!;
      if (best === undefined || c.pending.size < best.pending.size) best = c;
    }
    this.next++;
    if (best === undefined || best.pending.size >= this.opts.maxPendingPerConnection) return undefined;
    return best;
  }

  private open(upstream: UpstreamAddr): Conn {
    const socket = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    const conn: Conn = { upstream, socket, reader: new FrameReader(), writer: new FrameWriter(socket), pending: new Map(), idle: undefined, dead: false, lastRx: 0 };
    socket.on('data', (chunk) => {
      conn.lastRx = Date.now();
      for (const msg of conn.reader.push(chunk)) this.onMessage(conn, msg);
    });
    socket.on('error', () => this.kill(conn, 'socket'));
    socket.on('close', () => this.kill(conn, 'closed'));
    return conn;
  }

  private onMessage(conn: Conn, msg: Buffer): void {
    const from = conn.upstream.label;
    if (msg.length < HEADER_LEN || !isResponse(msg)) return this.opts.onDrop('malformed', from);
    const p = conn.pending.get(messageId(msg));
    if (p === undefined) return this.opts.onDrop('unknown_id', from);
    if (!sameQuestion(p.query, p.q, msg)) return this.opts.onDrop('wrong_question', from);
    this.finish(p, msg, undefined);
  }

  private onTimeout(p: Pending): void {
    const conn = p.conn;
    if (conn.pending.get(p.id) !== p) return;
    // Killed before any callback runs, so a retry from a callback cannot pick this connection.
    if (conn.lastRx < p.sentAt) {
      this.stallCount++;
      return this.kill(conn, 'timeout');
    }
    this.finish(p, undefined, 'timeout');
  }

  private finish(p: Pending, resp: Buffer | undefined, failure: SendFailure | undefined): void {
    const conn = p.conn;
    if (conn.pending.get(p.id) !== p) return;
    conn.pending.delete(p.id);
    clearTimeout(p.timer);
    if (conn.pending.size === 0 && !conn.dead) {
      conn.idle = setTimeout(() => this.kill(conn, 'closed'), this.opts.idleMs);
      conn.idle.unref();
    }
    p.cb(resp, failure);
  }

  private kill(conn: Conn, failure: SendFailure): void {
    if (conn.dead) return;
    conn.dead = true;
    clearTimeout(conn.idle);
    const list = this.conns.get(conn.upstream.label);
    if (list !== undefined) {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.conns.delete(conn.upstream.label);
    }
    conn.socket.destroy();
    for (const p of [...conn.pending.values()]) {
      conn.pending.delete(p.id);
      clearTimeout(p.timer);
      p.cb(undefined, failure);
    }
  }
}
