// NetworkPolicy's API-server validation (k8s pkg/apis/networking/validation), re-stated. It runs
// after the structural schema check, so types are already right; it also applies to the
// NetworkPolicy part of an ApplicationNetworkPolicy.

import { child, index, issue, type FieldIssue } from './errors.js';
import { cidrStrictlyInside, parseCIDR } from './ip.js';
import { isValidPortName, isValidPortNum, validateLabelSelector } from './labels.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const POLICY_TYPES = ['Ingress', 'Egress'];
const CIDR_HINT = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

export function validateNetworkPolicyPort(port: unknown, path: string): FieldIssue[] {
  if (!isObj(port)) return [];
  const out: FieldIssue[] = [];
  const { protocol, port: p, endPort } = port;
  if (protocol !== undefined && !PROTOCOLS.includes(protocol as string)) {
    out.push(issue(child(path, 'protocol'), 'Unsupported value', `supported values: ${PROTOCOLS.map((x) => `"${x}"`).join(', ')}`, protocol));
  }
  if (p !== undefined) {
    if (typeof p === 'number') {
      for (const m of isValidPortNum(p)) out.push(issue(child(path, 'port'), 'Invalid value', m, p));
      if (typeof endPort === 'number') {
        if (endPort < p) out.push(issue(child(path, 'endPort'), 'Invalid value', 'must be greater than or equal to `port`', p));
        for (const m of isValidPortNum(endPort)) out.push(issue(child(path, 'endPort'), 'Invalid value', m, endPort));
      }
    } else if (typeof p === 'string') {
      if (endPort !== undefined) out.push(issue(child(path, 'endPort'), 'Invalid value', 'may not be specified when `port` is non-numeric', endPort));
      for (const m of isValidPortName(p)) out.push(issue(child(path, 'port'), 'Invalid value', m, p));
    }
  } else if (endPort !== undefined) {
    out.push(issue(child(path, 'endPort'), 'Invalid value', 'may not be specified when `port` is not specified', endPort));
  }
  return out;
}

export function validateIPBlock(ipb: Obj, path: string): FieldIssue[] {
  const out: FieldIssue[] = [];
  const cidrPath = child(path, 'cidr');
  if (typeof ipb.cidr !== 'string' || ipb.cidr === '') return [issue(cidrPath, 'Required value', '')];
  const cidr = parseCIDR(ipb.cidr);
  if (!cidr) out.push(issue(cidrPath, 'Invalid value', CIDR_HINT, ipb.cidr));
  arr(ipb.except).forEach((e, i) => {
    const ep = index(child(path, 'except'), i);
    const ex = typeof e === 'string' ? parseCIDR(e) : undefined;
    if (!ex) {
      out.push(issue(ep, 'Invalid value', CIDR_HINT, e));
      return;
    }
    if (cidr && !cidrStrictlyInside(cidr, ex)) out.push(issue(ep, 'Invalid value', 'must be a strict subset of `cidr`', e));
  });
  return out;
}

/** A NetworkPolicy peer; ApplicationNetworkPolicy's domainNames peer counts as a peer too. */
export function validateNetworkPolicyPeer(peer: unknown, path: string): FieldIssue[] {
  if (!isObj(peer)) return [];
  const out: FieldIssue[] = [];
  let n = 0;
  if (peer.podSelector !== undefined) {
    n++;
    out.push(...validateLabelSelector(peer.podSelector, child(path, 'podSelector')));
  }
  if (peer.namespaceSelector !== undefined) {
    n++;
    out.push(...validateLabelSelector(peer.namespaceSelector, child(path, 'namespaceSelector')));
  }
  if (isObj(peer.ipBlock)) {
    n++;
    out.push(...validateIPBlock(peer.ipBlock, child(path, 'ipBlock')));
  }
  const domains = peer.domainNames !== undefined;
  if (n === 0 && !domains) out.push(issue(path, 'Required value', 'must specify a peer'));
  else if (peer.ipBlock !== undefined && n > 1) out.push(issue(path, 'Forbidden', 'may not specify both ipBlock and another peer'));
  return out;
}

/** spec of a NetworkPolicy (or ApplicationNetworkPolicy), at field path `spec`. */
export function validateNetworkPolicySpec(spec: unknown, path = 'spec'): FieldIssue[] {
  if (!isObj(spec)) return [];
  const out: FieldIssue[] = [...validateLabelSelector(spec.podSelector, child(path, 'podSelector'))];
  for (const [dir, peersField] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    arr(spec[dir]).forEach((rule, i) => {
      if (!isObj(rule)) return;
      const rp = index(child(path, dir), i);
      arr(rule.ports).forEach((p, j) => out.push(...validateNetworkPolicyPort(p, index(child(rp, 'ports'), j))));
      arr(rule[peersField]).forEach((peer, j) => out.push(...validateNetworkPolicyPeer(peer, index(child(rp, peersField), j))));
    });
  }
  const types = arr(spec.policyTypes);
  types.forEach((t, i) => {
    if (!POLICY_TYPES.includes(t as string)) {
      out.push(issue(index(child(path, 'policyTypes'), i), 'Unsupported value', 'supported values: "Egress", "Ingress"', t));
    }
  });
  if (types.length > POLICY_TYPES.length) {
    out.push(issue(child(path, 'policyTypes'), 'Invalid value', 'may not specify more than two policyTypes', types));
  }
  return out;
}
