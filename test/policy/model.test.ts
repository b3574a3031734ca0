// The policy model built from objects that did not come through the loader (informers, generated
// states): optional fields the CRD defaults may be absent, and the model must apply the default.
import { describe, expect, it } from 'vitest';
import type { UpstreamClusterNetworkPolicy } from '../../src/api/types.js';
import { Evaluator, type PeerModel, clusterPolicyModel } from '../../src/policy/index.js';
import { STRICT, baseState } from './support/base.js';

const CLIENT = { podSelector: { matchLabels: { app: 'client' } } };
const DB = { podSelector: { matchLabels: { app: 'db' } } };

function upstream(spec: Partial<UpstreamClusterNetworkPolicy['spec']>): UpstreamClusterNetworkPolicy {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'no-ns-selector' },
    spec: { tier: 'Admin', priority: 1, subject: { pods: CLIENT }, ...spec },
  };
}

describe('upstream NamespacedPod without namespaceSelector (optional; absent = all namespaces)', () => {
  it.each([
    ['subject', upstream({ egress: [{ action: 'Accept', to: [{ namespaces: {} }] }] })],
    ['egress peer', upstream({ subject: { namespaces: {} }, egress: [{ action: 'Accept', to: [{ pods: DB }] }] })],
    ['ingress peer', upstream({ subject: { namespaces: {} }, ingress: [{ action: 'Accept', from: [{ pods: CLIENT }] }] })],
  ])('%s: the model selects in every namespace', (_where, policy) => {
    const model = clusterPolicyModel(policy);
    const peers = [...model.egress, ...model.ingress].flatMap((r): readonly PeerModel[] => (r.peers === 'any' ? [] : r.peers));
    const selections = [model.subject, ...peers.flatMap((p) => (p.kind === 'pods' ? [p] : []))];
    for (const s of selections) expect(s.namespaces).toEqual({ kind: 'selector', selector: {} });
  });

  it('evaluates a/client -> b/db through such a peer and subject', () => {
    const state = baseState();
    state.clusterNetworkPolicies.push(upstream({ egress: [{ name: 'db', action: 'Accept', to: [{ pods: DB }] }] }));
    const ev = new Evaluator(state);
    expect(ev.evaluate({ from: 'a/client', to: 'b/db', protocol: 'TCP', port: 5432 }, STRICT).egress).toMatchObject({ verdict: 'Allow', tier: 'Admin', rule: 'db' });
    expect(ev.evaluate({ from: 'a/client', to: 'a/server', protocol: 'TCP', port: 8080 }, STRICT).egress).toMatchObject({ verdict: 'Deny', tier: 'Default' });
  });
});
