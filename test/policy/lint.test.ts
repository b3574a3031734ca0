// lintPolicies: each warning fires on the case it is for and stays quiet on its near miss.
import { describe, expect, it } from 'vitest';
import { emptyClusterState } from '../../src/api/types.js';
import { type LintFinding, lintPolicies } from '../../src/policy/index.js';
import { baseState, cnp, docs, eksCnp, np } from './support/base.js';
import { stateFromYaml } from './support/state.js';

const CLIENT = `pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: client}}}`;
const SERVER = `pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: server}}}`;

function admin(name: string, priority: number, subject: string, egress: string): string {
  return cnp(name, `
    tier: Admin
    priority: ${priority}
    subject: {${subject}}
    egress:
${egress.replace(/^\n+/, '').split('\n').map((l) => `    ${l}`).join('\n')}`);
}

const lint = (policies: string): LintFinding[] => lintPolicies(baseState(policies));
const about = (findings: LintFinding[], text: RegExp): LintFinding[] => findings.filter((f) => text.test(f.message));

describe('lintPolicies', () => {
  it('a clean policy set has no findings', () => {
    const policies = docs(
      admin('a', 1, CLIENT, `- {name: to-server, action: Accept, to: [{${SERVER}}]}`),
      np('a', 'np', `
        podSelector: {matchLabels: {app: server}}
        ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}]}]`),
    );
    expect(lint(policies)).toEqual([]);
  });

  describe('same tier and priority', () => {
    it.each([
      ['overlapping subjects (shared pod)', CLIENT, CLIENT, 1],
      ['overlapping subjects (namespaces {} vs pods)', 'namespaces: {}', CLIENT, 1],
      ['provably disjoint subjects', CLIENT, SERVER, 0],
    ])('%s', (_n, s1, s2, count) => {
      const rule = `- {action: Deny, to: [{networks: [203.0.113.0/24]}]}`;
      const found = about(lint(docs(admin('p1', 7, s1, rule), admin('p2', 7, s2, rule))), /same tier \(Admin\) and priority \(7\)/);
      expect(found).toHaveLength(count);
      if (count > 0) expect(found[0]).toMatchObject({ severity: 'warning', ref: 'ClusterNetworkPolicy/p1', field: 'spec.priority' });
    });

    it('different priorities do not warn', () => {
      const rule = `- {action: Deny, to: [{networks: [203.0.113.0/24]}]}`;
      expect(about(lint(docs(admin('p1', 7, CLIENT, rule), admin('p2', 8, CLIENT, rule))), /same tier/)).toEqual([]);
    });
  });

  describe('shadowed rules', () => {
    it('warns when an earlier rule covers a later one (upstream written order)', () => {
      const found = about(
        lint(admin('s', 1, CLIENT, `
          - {name: wide, action: Accept, to: [{networks: [10.0.0.0/8]}]}
          - {name: narrow, action: Deny, to: [{networks: [10.0.1.0/24]}]}`)),
        /never applies/,
      );
      expect(found).toEqual([expect.objectContaining({ ref: 'ClusterNetworkPolicy/s', field: 'spec.egress[1]' })]);
    });

    it('EKS precedence: a written-later Deny shadows a written-earlier Accept', () => {
      const found = about(
        lint(eksCnp('e', `
          tier: Admin
          priority: 1
          subject: {${CLIENT}}
          egress:
          - {name: narrow, action: Accept, to: [{networks: [10.0.1.0/24]}]}
          - {name: wide, action: Deny, to: [{networks: [10.0.0.0/8]}]}`)),
        /never applies/,
      );
      expect(found).toEqual([expect.objectContaining({ field: 'spec.egress[0]', message: expect.stringMatching(/EKS evaluates Deny/) })]);
    });

    it('no warning when the earlier rule is narrower', () => {
      expect(
        about(
          lint(admin('s', 1, CLIENT, `
            - {name: narrow, action: Accept, to: [{networks: [10.0.1.0/24]}]}
            - {name: wide, action: Deny, to: [{networks: [10.0.0.0/8]}]}`)),
          /never applies|redundant/,
        ),
      ).toEqual([]);
    });

    it('ports narrow the coverage', () => {
      expect(
        about(
          lint(admin('s', 1, CLIENT, `
            - {name: a, action: Accept, to: [{networks: [10.0.0.0/8]}], protocols: [{tcp: {destinationPort: {number: 80}}}]}
            - {name: b, action: Deny, to: [{networks: [10.0.1.0/24]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}`)),
          /never applies/,
        ),
      ).toEqual([]);
    });

    it('a redundant NetworkPolicy rule', () => {
      const found = about(
        lint(np('a', 'np', `
          podSelector: {}
          policyTypes: [Egress]
          egress: [{ports: [{port: 53, protocol: UDP}]}, {to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 53, protocol: UDP}]}]`)),
        /redundant/,
      );
      expect(found).toEqual([expect.objectContaining({ ref: 'NetworkPolicy/a/np', field: 'spec.egress[1]' })]);
    });
  });

  describe('domainNames without effect', () => {
    const dn = `- {name: web, action: Accept, to: [{domainNames: ["*.example.com"]}]}`;
    it('Admin Accept by domain, nothing denies later: warns', () => {
      expect(about(lint(admin('d', 1, CLIENT, dn)), /domainNames rule web has no effect/)).toHaveLength(1);
    });
    it('a later Deny in the same policy gives it effect', () => {
      expect(about(lint(admin('d', 1, CLIENT, `${dn}\n- {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}`)), /has no effect/)).toEqual([]);
    });
    it('a Baseline Deny gives it effect', () => {
      const baseline = cnp('b', `
        tier: Baseline
        priority: 1
        subject: {namespaces: {}}
        egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]`);
      expect(about(lint(docs(admin('d', 1, CLIENT, dn), baseline)), /has no effect/)).toEqual([]);
    });
    it('egress isolation by a NetworkPolicy gives it effect', () => {
      const iso = np('a', 'iso', `
        podSelector: {}
        policyTypes: [Egress]`);
      expect(about(lint(docs(admin('d', 1, CLIENT, dn), iso)), /has no effect/)).toEqual([]);
    });
    it('ANP whose pods already allow all egress', () => {
      const anp = np('a', 'anp', `
        podSelector: {matchLabels: {app: client}}
        egress: [{to: [{domainNames: [api.example.com]}]}, {}]`, 'ApplicationNetworkPolicy');
      expect(about(lint(anp), /already has an egress rule that allows everything/)).toHaveLength(1);
    });
  });

  describe('domainNames with no DNS path', () => {
    const anp = (rules: string): string =>
      np('a', 'anp', `
        podSelector: {matchLabels: {app: client}}
        policyTypes: [Egress]
        egress: ${rules}`, 'ApplicationNetworkPolicy');
    const DN = `{to: [{domainNames: ["*.example.com"]}], ports: [{port: 443}]}`;
    const noDns = /domainNames rule .* no rule allowing DNS/;
    it.each([
      ['only the domainNames rule', anp(`[${DN}]`), 1],
      ['DNS allowed over UDP 53 to kube-system', anp(`[${DN}, {to: [{namespaceSelector: {}}], ports: [{port: 53, protocol: UDP}]}]`), 0],
      ['DNS allowed over TCP 53 by a range', anp(`[${DN}, {ports: [{port: 50, endPort: 60}]}]`), 0],
      ['a rule without ports allows DNS too', anp(`[${DN}, {to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]`), 0],
      ['all UDP ports allow DNS', anp(`[${DN}, {ports: [{protocol: UDP}]}]`), 0],
      ['port 53 of SCTP is not DNS', anp(`[${DN}, {ports: [{port: 53, protocol: SCTP}]}]`), 1],
      ['DNS in another NetworkPolicy selecting the same pod', docs(anp(`[${DN}]`), np('a', 'dns', `
        podSelector: {}
        policyTypes: [Egress]
        egress: [{ports: [{port: 53, protocol: UDP}]}]`)), 0],
      ['DNS from an Admin Accept for the pod', docs(anp(`[${DN}]`), admin('dns', 1, CLIENT, `- {action: Accept, to: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 53}}}]}`)), 0],
      ['CNP Accept by domain then Deny everything', admin('d', 1, CLIENT, `- {name: web, action: Accept, to: [{domainNames: ["*.example.com"]}]}\n- {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}`), 1],
      ['CNP Accept by domain, DNS accepted first', admin('d', 1, CLIENT, `- {name: dns, action: Accept, to: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 53}}}]}\n- {name: web, action: Accept, to: [{domainNames: ["*.example.com"]}]}\n- {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}`), 0],
    ])('%s', (_n, policies, count) => {
      const found = about(lint(policies), noDns);
      expect(found).toHaveLength(count);
      if (count > 0) expect(found[0]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/a\/client/) });
    });
  });

  describe('ipBlock/networks covering Service backends', () => {
    const svcNote = /backs? Service a\/server.*ClusterIP 10\.96\.0\.10/;
    it.each([
      ['NetworkPolicy ipBlock over the backend pod', np('a', 'np', `
        podSelector: {matchLabels: {app: client}}
        policyTypes: [Egress]
        egress: [{to: [{ipBlock: {cidr: 10.0.0.0/24}}]}]`), 1, 'NetworkPolicy/a/np'],
      ['CNP networks over the backend pod', admin('nets', 1, CLIENT, `- {action: Deny, to: [{networks: [10.0.0.2/32]}]}`), 1, 'ClusterNetworkPolicy/nets'],
      ['the block also covers the ClusterIP', admin('nets', 1, CLIENT, `- {action: Deny, to: [{networks: [10.0.0.0/8]}]}`), 0, ''],
      ['the block misses the backends', admin('nets', 1, CLIENT, `- {action: Deny, to: [{networks: [10.0.1.0/24]}]}`), 0, ''],
      ['except removes the backend', np('a', 'np', `
        podSelector: {matchLabels: {app: client}}
        policyTypes: [Egress]
        egress: [{to: [{ipBlock: {cidr: 10.0.0.0/24, except: [10.0.0.2/32]}}]}]`), 0, ''],
    ])('%s', (_n, policies, count, ref) => {
      const found = about(lint(policies), svcNote);
      expect(found).toHaveLength(count);
      if (count > 0) expect(found[0]).toMatchObject({ severity: 'warning', ref, field: 'spec.egress[0]' });
    });
  });

  describe('cluster policies of two API groups with one name', () => {
    const rule = `- {action: Deny, to: [{networks: [203.0.113.0/24]}]}`;
    const eks = (name: string): string => eksCnp(name, `
      tier: Baseline
      priority: 3
      subject: {namespaces: {}}
      egress: [{action: Deny, to: [{networks: [198.51.100.0/24]}]}]`);
    it.each([
      ['same name in both groups', docs(admin('same', 1, CLIENT, rule), eks('same')), 1],
      ['different names', docs(admin('one', 1, CLIENT, rule), eks('two')), 0],
    ])('%s', (_n, policies, count) => {
      const found = about(lint(policies), /both networking\.k8s\.aws and policy\.networking\.k8s\.io.*ambiguous/);
      expect(found).toHaveLength(count);
      if (count > 0) expect(found[0]).toMatchObject({ severity: 'warning', ref: 'ClusterNetworkPolicy/same' });
    });
  });

  describe('named ports', () => {
    it('warns for a name no destination pod defines', () => {
      const found = about(lint(admin('nets', 1, CLIENT, `- {action: Accept, to: [{${SERVER}}], protocols: [{destinationNamedPort: grpc}]}`)), /named port "grpc"/);
      expect(found).toHaveLength(1);
    });
    it('warns when only another protocol defines it (NetworkPolicy, TCP default)', () => {
      const p = np('a', 'np', `
        podSelector: {matchLabels: {app: server}}
        ingress: [{ports: [{port: dns}]}]`);
      expect(about(lint(p), /named port "dns" \(TCP\)/)).toHaveLength(1);
    });
    it('quiet when a reachable pod defines it', () => {
      expect(about(lint(admin('nets', 1, CLIENT, `- {action: Accept, to: [{${SERVER}}], protocols: [{destinationNamedPort: http}]}`)), /named port/)).toEqual([]);
    });
  });

  describe('selectors that match nothing', () => {
    it('subject, pod peer and node peer', () => {
      const found = lint(cnp('nothing', `
        tier: Admin
        priority: 1
        subject: {namespaces: {matchLabels: {team: nobody}}}
        egress: [{action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: ghost}}}}, {nodes: {matchLabels: {zone: mars}}}]}]`));
      expect(about(found, /selects no pod/)).toEqual([expect.objectContaining({ field: 'spec.subject' })]);
      expect(about(found, /matches no pod/)).toHaveLength(1);
      expect(about(found, /matches no node/)).toHaveLength(1);
    });
    it('are not reported when the state holds no pods or nodes (policies linted alone)', () => {
      const state = stateFromYaml(np('a', 'np', `podSelector: {matchLabels: {app: ghost}}`));
      expect(lintPolicies(state)).toEqual([]);
      expect(lintPolicies(emptyClusterState())).toEqual([]);
    });
  });
});
