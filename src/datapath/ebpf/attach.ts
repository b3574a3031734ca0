// The two programs on an endpoint's host veth: clsact ingress (packets from the pod, its egress)
// and egress (packets to the pod, its ingress). dnsgate's filters sit at a fixed handle and
// priority so a restarted agent replaces them in place (no moment without a filter) and
// uninstall finds them without having recorded anything.
import { tcAttach, tcDetach, tcHookCreate, tcQuery } from 'libbpf-ts';
import type { BpfProgram, TcAttachment, TcDirection } from 'libbpf-ts';

export const TC_HANDLE = 0xd9;
export const TC_PRIORITY = 0xd9;

export interface HookPrograms {
  /** Runs on the veth's tc ingress: the pod's egress. */
  readonly fromPod: BpfProgram;
  /** Runs on the veth's tc egress: the pod's ingress. */
  readonly toPod: BpfProgram;
}

/** Attaches (or atomically replaces) both programs on the interface. */
export function attachHooks(ifindex: number, progs: HookPrograms, netns?: string): TcAttachment[] {
  const iface = { ifindex, ...(netns !== undefined ? { netns } : {}) };
  tcHookCreate(iface);
  const opts = { handle: TC_HANDLE, priority: TC_PRIORITY, replace: true };
  return [tcAttach(iface, 'ingress', progs.fromPod, opts), tcAttach(iface, 'egress', progs.toPod, opts)];
}

function gone(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENODEV' || code === 'EINVAL';
}

/**
 * Removes dnsgate's filters from the interface (other filters and the clsact qdisc stay: other
 * software may use them). An interface that is gone has nothing left to remove.
 */
export function detachHooks(ifindex: number, netns?: string): number {
  let removed = 0;
  for (const direction of ['ingress', 'egress'] as TcDirection[]) {
    const iface = { ifindex, ...(netns !== undefined ? { netns } : {}) };
    try {
      if (tcQuery(iface, direction, TC_HANDLE, TC_PRIORITY) === undefined) continue;
      tcDetach({ ...iface, direction, handle: TC_HANDLE, priority: TC_PRIORITY });
      removed++;
    } catch (err) {
      if (!gone(err)) throw err;
    }
  }
  return removed;
}

/** The program ids dnsgate's filters run on the interface (undefined where none). */
export function queryHooks(ifindex: number, netns?: string): { ingress?: number; egress?: number } {
  const iface = { ifindex, ...(netns !== undefined ? { netns } : {}) };
  const out: { ingress?: number; egress?: number } = {};
  for (const direction of ['ingress', 'egress'] as TcDirection[]) {
    try {
      const id = tcQuery(iface, direction, TC_HANDLE, TC_PRIORITY);
      if (id !== undefined) out[direction] = id;
    } catch (err) {
      if (!gone(err)) throw err;
    }
  }
  return out;
}
