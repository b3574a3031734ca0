// tc clsact hooks and direct-action BPF filters on an interface, optionally in another netns.
import { bpfError } from './errors.js';
import { native } from './native.js';
import type { BpfProgram } from './program.js';

export type TcDirection = 'ingress' | 'egress';

export interface TcInterface {
  ifindex: number;
  /** Network namespace: a name under /run/netns or a path; default the caller's own. */
  netns?: string;
}

export interface TcAttachOptions {
  /** Filter handle; 0 (default) lets the kernel pick one. */
  handle?: number;
  /** Filter priority; 0 (default) lets the kernel pick one. */
  priority?: number;
  /** Replace a filter already at this handle/priority instead of failing with EEXIST. */
  replace?: boolean;
}

/** Identifies an attached filter; pass it to tcDetach or tcQuery. */
export interface TcAttachment extends TcInterface {
  direction: TcDirection;
  handle: number;
  priority: number;
  progId: number;
}

/** Resolves an interface name (in `netns` if given) to its ifindex. */
export function ifIndex(name: string, netns?: string): number {
  return native().ifIndex(name, netns);
}

/** Ensures a clsact qdisc on the interface; returns false if one was already there. */
export function tcHookCreate(iface: TcInterface): boolean {
  return native().tcHookCreate(iface.ifindex, 'both', iface.netns);
}

/**
 * Removes the clsact qdisc and every filter on it ('both', the default), or flushes the filters
 * of one direction. With `ignoreMissing`, a device without clsact (or gone) is not an error.
 */
export function tcHookDestroy(iface: TcInterface, where: TcDirection | 'both' = 'both', opts: { ignoreMissing?: boolean } = {}): void {
  try {
    native().tcHookDestroy(iface.ifindex, where, iface.netns);
  } catch (err) {
    if (opts.ignoreMissing && isMissing(err)) return;
    throw err;
  }
}

/** Attaches a program (direct action) to a direction; the clsact hook must exist (tcHookCreate). */
export function tcAttach(iface: TcInterface, direction: TcDirection, prog: BpfProgram | number, opts: TcAttachOptions = {}): TcAttachment {
  const fd = typeof prog === 'number' ? prog : prog.fd;
  const r = native().tcAttach(iface.ifindex, direction, fd, opts, iface.netns);
  return { ifindex: iface.ifindex, ...(iface.netns !== undefined ? { netns: iface.netns } : {}), direction, ...r };
}

export function tcDetach(att: Omit<TcAttachment, 'progId'>): void {
  native().tcDetach(att.ifindex, att.direction, att.handle, att.priority, att.netns);
}

/** The id of the program attached at handle/priority, or undefined if none (or no clsact at all). */
export function tcQuery(iface: TcInterface, direction: TcDirection, handle: number, priority: number): number | undefined {
  // Checked here because the native call reads EINVAL as "no clsact on the device".
  if (!(handle > 0 && priority > 0)) {
    throw bpfError('bpf_tc_query', 'EINVAL', 'handle and priority must be non-zero', { path: `ifindex ${iface.ifindex}` });
  }
  return native().tcQuery(iface.ifindex, direction, handle, priority, iface.netns) ?? undefined;
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENODEV' || code === 'EINVAL';
}
