// Upstream queries over UDP from a pool of sockets (RFC 5452): every query gets a fresh random ID
// on a randomly chosen socket, and sockets are replaced after a number of uses so the source port
// keeps changing. Each socket is connected to one upstream, so the kernel already discards
// datagrams from any other source (and skips a route lookup per send). A datagram is accepted only
// when it comes from the exact upstream address and port, carries an outstanding ID on that
// socket, and repeats the query's question.
import { createSocket, type Socket } from 'node:dgram';
import type { UpstreamAddr } from './upstream-addr.js';
import type { RandomSource } from './random.js';
import { HEADER_LEN, isResponse, messageId, sameQuestion, setMessageId, type Question } from './wire.js';

export type DropReason = 'unknown_id' | 'wrong_source' | 'wrong_question' | 'malformed';
/** `closed`: the connection dropped (worth a retry); `shutdown`: the pool itself was closed. */
export type SendFailure = 'timeout' | 'closed' | 'socket' | 'busy' | 'shutdown';
/** Exactly one of the two arguments is set. */
export type UpstreamCallback = (resp: Buffer | undefined, failure: SendFailure | undefined) => void;

export interface UdpPoolOptions {
  /** Sockets per upstream. */
  readonly sockets: number;
  /** A socket takes no new queries after this many and closes once its last answer is in. */
  readonly maxUsesPerSocket: number;
  /**
   * Outstanding queries per socket. Each one is an ID a forged datagram to that port can hit, so
   * this stays far below 65536; a full socket sends the query on another one.
   */
  readonly maxPendingPerSocket: number;
  readonly random: RandomSource;
  readonly onDrop: (reason: DropReason, from: string) => void;
}

interface Pending {
  readonly id: number;
  readonly upstream: UpstreamAddr;
  readonly query: Buffer;
  readonly q: Question;
  readonly slot: Slot;
  readonly cb: UpstreamCallback;
  timer: NodeJS.Timeout | undefined;
}

interface Slot {
  readonly socket: Socket;
  /** Datagrams sent before the socket finished connecting. */
  queue: Buffer[] | undefined;
  readonly pending: Map<number, Pending>;
  uses: number;
  retired: boolean;
}

export class UdpUpstreamPool {
  private readonly slots = new Map<string, Slot[]>();
  /** Every open socket, including retired ones still waiting for answers. */
  private readonly live = new Set<Slot>();
  private closed = false;

  constructor(private readonly opts: UdpPoolOptions) {}

  /** Send `query` (its ID is overwritten) to `upstream`; `cb` runs exactly once. */
  send(upstream: UpstreamAddr, query: Buffer, q: Question, timeoutMs: number, cb: UpstreamCallback): void {
    if (this.closed) return cb(undefined, 'shutdown');
    const slot = this.pickSlot(upstream);
    if (slot === undefined) return cb(undefined, 'busy');
    let id = this.opts.random.u16();
    while (slot.pending.has(id)) id = this.opts.random.u16();
    setMessageId(query, id);
    const p: Pending = { id, upstream, query, q, slot, cb, timer: undefined };
    p.timer = setTimeout(() => this.finish(p, undefined, 'timeout'), timeoutMs);
    slot.pending.set(id, p);
    if (++slot.uses >= this.opts.maxUsesPerSocket) this.retire(slot);
    // No per-send callback (it costs an allocation and a tick per query): a failed send surfaces
    // as the socket's 'error', which fails everything outstanding on it.
    if (slot.queue !== undefined) slot.queue.push(query);
    else slot.socket.send(query);
  }

  /** Outstanding queries (for tests and gauges). */
  get outstanding(): number {
    let n = 0;
    for (const s of this.live) n += s.pending.size;
    return n;
  }

  /** Local ports currently in use (tests check that they vary). */
  localPorts(): number[] {
    const ports: number[] = [];
    for (const s of this.live) {
      try {
        ports.push(s.socket.address().port);
      } catch {
        // not bound yet
      }
    }
    return ports;
  }

  close(): void {
    this.closed = true;
    for (const slot of [...this.live]) {
      for (const p of [...slot.pending.values()]) this.finish(p, undefined, 'shutdown');
      this.closeSlot(slot);
    }
    this.slots.clear();
  }

  /** A random socket with room for one more query; the others in turn when it is full. */
  private pickSlot(upstream: UpstreamAddr): Slot | undefined {
    let list = this.slots.get(upstream.label);
    if (list === undefined) this.slots.set(upstream.label, (list = []));
    const n = this.opts.sockets;
    const first = this.opts.random.below(n);
    for (let k = 0; k < n; k++) {
      const i = (first + k) % n;
      let slot = list[i];
      if (slot === undefined || slot.retired) {
        slot = this.openSlot(upstream);
        list[i] = slot;
      }
      if (slot.pending.size < this.opts.maxPendingPerSocket) return slot;
    }
    return undefined;
  }

  private openSlot(upstream: UpstreamAddr): Slot {
    const socket = createSocket({ type: upstream.family === 6 ? 'udp6' : 'udp4' });
    const slot: Slot = { socket, queue: [], pending: new Map(), uses: 0, retired: false };
    this.live.add(slot);
    socket.on('message', (msg, rinfo) => this.onMessage(slot, msg, rinfo.address, rinfo.port));
    socket.on('error', () => {
      for (const p of [...slot.pending.values()]) this.finish(p, undefined, 'socket');
      this.retire(slot);
    });
    socket.on('listening', () => {
      try {
        socket.setRecvBufferSize(1 << 22);
      } catch {
        // The kernel caps the size (net.core.rmem_max); the default still works.
      }
    });
    // An explicit bind to port 0 lets the kernel choose a fresh random ephemeral port.
    socket.bind(0);
    socket.connect(upstream.port, upstream.host, () => {
      const queued = slot.queue ?? [];
      slot.queue = undefined;
      if (!this.live.has(slot)) return;
      for (const b of queued) socket.send(b);
    });
    return slot;
  }

  /** No new queries on this socket (pickSlot replaces it); it closes once it has no pending. */
  private retire(slot: Slot): void {
    slot.retired = true;
    if (slot.pending.size === 0) this.closeSlot(slot);
  }

  private closeSlot(slot: Slot): void {
    if (!this.live.delete(slot)) return;
    slot.socket.close();
  }

  private onMessage(slot: Slot, msg: Buffer, address: string, port: number): void {
    const from = `${address}:${port}`;
    if (msg.length < HEADER_LEN || !isResponse(msg)) return this.opts.onDrop('malformed', from);
    const p = slot.pending.get(messageId(msg));
    if (p === undefined) return this.opts.onDrop('unknown_id', from);
    if (address !== p.upstream.host || port !== p.upstream.port) return this.opts.onDrop('wrong_source', from);
    // A wrong question leaves the query outstanding: a spoofer must not be able to cancel it.
    if (!sameQuestion(p.query, p.q, msg)) return this.opts.onDrop('wrong_question', from);
    this.finish(p, msg, undefined);
  }

  private finish(p: Pending, resp: Buffer | undefined, failure: SendFailure | undefined): void {
    if (p.slot.pending.get(p.id) !== p) return;
    p.slot.pending.delete(p.id);
    clearTimeout(p.timer);
    if (p.slot.retired && p.slot.pending.size === 0) this.closeSlot(p.slot);
    p.cb(resp, failure);
  }
}
