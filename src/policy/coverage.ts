// Sound but incomplete "rule A matches everything rule B matches" tests, for shadowing warnings.
// `true` is a proof; `false` only means "could not show it".
import { cidrContainsCidr } from './cidr.js';
import type { PeerModel, PodSelection, PortModel, RuleModel } from './model.js';
import { isEmptySelector } from './selector.js';

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function selectionCovers(a: PodSelection, b: PodSelection): boolean {
  const podOk = isEmptySelector(a.podSelector) || sameJSON(a.podSelector, b.podSelector);
  const nsOk =
    (a.namespaces.kind === 'selector' && isEmptySelector(a.namespaces.selector)) || sameJSON(a.namespaces, b.namespaces);
  return podOk && nsOk;
}

export function peerCovers(a: PeerModel, b: PeerModel): boolean {
  if (a.kind === 'pods' && b.kind === 'pods') return selectionCovers(a, b);
  if (a.kind === 'networks' && b.kind === 'networks') return b.cidrs.every((cb) => a.cidrs.some((ca) => cidrContainsCidr(ca, cb)));
  if (a.kind === 'networks' && b.kind === 'ipBlock') return a.cidrs.some((ca) => cidrContainsCidr(ca, b.block.cidr));
  if (a.kind === 'ipBlock' && b.kind === 'ipBlock') {
    return a.block.except.length === 0 && cidrContainsCidr(a.block.cidr, b.block.cidr);
  }
  if (a.kind === 'nodes' && b.kind === 'nodes') return isEmptySelector(a.selector) || sameJSON(a.selector, b.selector);
  if (a.kind === 'domainNames' && b.kind === 'domainNames') return b.patterns.every((p) => a.patterns.includes(p));
  return false;
}

export function portCovers(a: PortModel, b: PortModel): boolean {
  if (a.kind === 'allPorts') return b.kind !== 'named' && a.protocol === b.protocol;
  if (a.kind === 'range' && b.kind === 'range') return a.protocol === b.protocol && a.start <= b.start && b.end <= a.end;
  if (a.kind === 'named' && b.kind === 'named') return a.name === b.name && (a.protocol === null || a.protocol === b.protocol);
  return false;
}

export function ruleCovers(a: RuleModel, b: RuleModel): boolean {
  const peersOk = a.peers === 'any' || (b.peers !== 'any' && b.peers.every((pb) => (a.peers as readonly PeerModel[]).some((pa) => peerCovers(pa, pb))));
  const portsOk = a.ports === 'any' || (b.ports !== 'any' && b.ports.every((pb) => (a.ports as readonly PortModel[]).some((pa) => portCovers(pa, pb))));
  return peersOk && portsOk;
}
