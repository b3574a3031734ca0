// What a backend must write and delete to go from one compilation to the next. Endpoints the
// incremental compiler did not touch are the same objects, so they cost one comparison.
import type { CompiledEndpoint, CompiledNode, CompiledRule, DirName, EndpointConfig, FamilyNumber, FqdnSlot } from './types.js';
import { PrefixTable } from './prefix-table.js';
import { DIR_NAMES } from './types.js';

export interface PrefixRef {
  readonly endpoint: string;
  readonly epId: number;
  readonly dir: DirName;
  readonly family: FamilyNumber;
  readonly cidr: string;
  readonly addr: string;
  readonly prefixLen: number;
}

export interface PrefixWrite extends PrefixRef {
  readonly rules: readonly CompiledRule[];
}

/**
 * Apply in this order so no packet sees a half-written endpoint: (1) prefixesUpsert, (2)
 * endpointsUpsert, (3) prefixesRemove, (4) endpointsRemove (their prefixes are listed in
 * prefixesRemove too), (5) slotsRemoved (learned entries of those slots can be flushed).
 */
export interface CompiledDiff {
  readonly endpointsUpsert: readonly { readonly endpoint: string; readonly config: EndpointConfig }[];
  readonly endpointsRemove: readonly { readonly endpoint: string; readonly epId: number }[];
  readonly prefixesUpsert: readonly PrefixWrite[];
  readonly prefixesRemove: readonly PrefixRef[];
  readonly slotsAdded: readonly FqdnSlot[];
  readonly slotsRemoved: readonly number[];
}

function sameConfig(a: EndpointConfig, b: EndpointConfig): boolean {
  return (
    a.epId === b.epId &&
    a.mode === b.mode &&
    a.egressIsolated === b.egressIsolated &&
    a.ingressIsolated === b.ingressIsolated &&
    a.podIp4 === b.podIp4 &&
    a.podIp6 === b.podIp6 &&
    a.nodeIp4 === b.nodeIp4 &&
    a.nodeIp6 === b.nodeIp6
  );
}

function sameSlot(a: FqdnSlot, b: FqdnSlot): boolean {
  return a.rule === b.rule && a.patterns.join('\n') === b.patterns.join('\n');
}

export function diff(prev: CompiledNode | null, next: CompiledNode): CompiledDiff {
  const endpointsUpsert: { endpoint: string; config: EndpointConfig }[] = [];
  const endpointsRemove: { endpoint: string; epId: number }[] = [];
  const prefixesUpsert: PrefixWrite[] = [];
  const prefixesRemove: PrefixRef[] = [];
  const empty = new Map<string, never>();

  const prefixDiff = (before: CompiledEndpoint | undefined, after: CompiledEndpoint | undefined): void => {
    for (const dir of DIR_NAMES) {
      const a = before?.[dir].prefixes ?? empty;
      const b = after?.[dir].prefixes ?? empty;
      // An endpoint whose id changed is a new key space: everything is rewritten.
      const sameId = before !== undefined && after !== undefined && before.epId === after.epId;
      if (before && after && before[dir] === after[dir] && sameId) continue;
      // Two versions of one table: only the keys either version changed can differ.
      const keys = sameId ? PrefixTable.changedKeys(a, b) : null;
      if (keys) {
        const ep = after as CompiledEndpoint;
        for (const cidr of keys) {
          const old = a.get(cidr);
          const p = b.get(cidr);
          if (p && old && old.key === p.key) continue;
          if (p) prefixesUpsert.push({ endpoint: ep.key, epId: ep.epId, dir, family: p.family, cidr, addr: p.addr, prefixLen: p.prefixLen, rules: p.rules });
          else if (old) prefixesRemove.push({ endpoint: ep.key, epId: ep.epId, dir, family: old.family, cidr, addr: old.addr, prefixLen: old.prefixLen });
        }
        continue;
      }
      for (const [cidr, p] of b) {
        const old = sameId ? a.get(cidr) : undefined;
        if (old && old.key === p.key) continue;
        const ep = after as CompiledEndpoint;
        prefixesUpsert.push({ endpoint: ep.key, epId: ep.epId, dir, family: p.family, cidr, addr: p.addr, prefixLen: p.prefixLen, rules: p.rules });
      }
      for (const [cidr, p] of a) {
        if (sameId && b.has(cidr)) continue;
        const ep = before as CompiledEndpoint;
        prefixesRemove.push({ endpoint: ep.key, epId: ep.epId, dir, family: p.family, cidr, addr: p.addr, prefixLen: p.prefixLen });
      }
    }
  };

  for (const [key, ep] of next.endpoints) {
    const old = prev?.endpoints.get(key);
    if (old === ep) continue;
    if (!old || !sameConfig(old.config, ep.config)) endpointsUpsert.push({ endpoint: key, config: ep.config });
    if (old && old.epId !== ep.epId) endpointsRemove.push({ endpoint: key, epId: old.epId });
    prefixDiff(old, ep);
  }
  for (const [key, old] of prev?.endpoints ?? []) {
    if (next.endpoints.has(key)) continue;
    endpointsRemove.push({ endpoint: key, epId: old.epId });
    prefixDiff(old, undefined);
  }
  const slotsAdded: FqdnSlot[] = [];
  const slotsRemoved: number[] = [];
  for (const [id, s] of next.slots) {
    const old = prev?.slots.get(id);
    if (!old || !sameSlot(old, s)) slotsAdded.push(s);
    if (old && !sameSlot(old, s)) slotsRemoved.push(id);
  }
  for (const id of prev?.slots.keys() ?? []) if (!next.slots.has(id)) slotsRemoved.push(id);
  return { endpointsUpsert, endpointsRemove, prefixesUpsert, prefixesRemove, slotsAdded, slotsRemoved };
}

export function diffSize(d: CompiledDiff): number {
  return d.endpointsUpsert.length + d.endpointsRemove.length + d.prefixesUpsert.length + d.prefixesRemove.length + d.slotsAdded.length + d.slotsRemoved.length;
}
