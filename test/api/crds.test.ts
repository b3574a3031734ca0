import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { allCrdVersions, crdFor, CRD_FILES, MANIFESTS_DIR, parseCrdText } from '../../src/api/crds.js';
import { CEL_RULES, collectCelRules } from '../../src/api/cel.js';

describe('CRDs in manifests/', () => {
  it.each(CRD_FILES.map((f) => [f]))('%s parses into one served version with a schema', (file) => {
    const versions = parseCrdText(readFileSync(new URL(file, MANIFESTS_DIR), 'utf8'), file);
    expect(versions).toHaveLength(1);
    expect(versions[0]?.schema.properties?.spec?.type).toBe('object');
  });

  it.each([
    ['networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'Namespaced'],
    ['networking.k8s.aws/v1alpha1', 'ClusterNetworkPolicy', 'Cluster'],
    ['policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', 'Cluster'],
    ['networking.k8s.io/v1', 'NetworkPolicy', 'Namespaced'],
  ])('%s %s is known, scope %s', (apiVersion, kind, scope) => {
    expect(crdFor(apiVersion, kind)?.scope).toBe(scope);
  });

  it('the NetworkPolicy schema is the ANP one without domainNames', () => {
    const npPeer = crdFor('networking.k8s.io/v1', 'NetworkPolicy')?.schema.properties?.spec?.properties?.egress?.items?.properties?.to?.items;
    const anpPeer = crdFor('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy')?.schema.properties?.spec?.properties?.egress?.items?.properties?.to?.items;
    expect(Object.keys(npPeer?.properties ?? {}).sort()).toEqual(['ipBlock', 'namespaceSelector', 'podSelector']);
    expect(Object.keys(anpPeer?.properties ?? {}).sort()).toEqual(['domainNames', 'ipBlock', 'namespaceSelector', 'podSelector']);
    // The rules about domainNames go with it: a NetworkPolicy has nothing for them to check.
    const npRule = crdFor('networking.k8s.io/v1', 'NetworkPolicy')?.schema.properties?.spec?.properties?.egress?.items;
    expect(collectCelRules(npRule ?? {}).filter((r) => r.rule.includes('domainNames'))).toEqual([]);
  });

  const rules = allCrdVersions().flatMap((v) => collectCelRules(v.schema).map((r) => [`${v.group}/${v.kind}`, r.path, r.rule]));
  it('has CEL rules to check', () => expect(rules.length).toBeGreaterThanOrEqual(10));
  it.each(rules)('%s %s: rule %s has a TypeScript implementation', (_crd, _path, rule) => {
    expect(typeof CEL_RULES[rule as string]).toBe('function');
  });
});
