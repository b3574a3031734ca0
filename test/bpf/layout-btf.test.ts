// layout.ts against the compiled object: struct sizes and member offsets from the object's BTF,
// enum constants from bpf/dnsgate_layout.h. Needs bpftool and clang, not root.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from 'libbpf-ts';
import { describe, expect, it } from 'vitest';
import { REPO, builtObject } from './harness.js';
import * as L from '../../src/datapath/ebpf/layout.js';

interface BtfMember { name: string; bits_offset: number }
interface BtfType { kind: string; name: string; size?: number; members?: BtfMember[] }

const btf = JSON.parse(execFileSync('bpftool', ['btf', 'dump', 'file', builtObject('dnsgate'), '-j'], { encoding: 'utf8' })) as { types: BtfType[] };
const structs = new Map(btf.types.filter((t) => t.kind === 'STRUCT').map((t) => [t.name, t]));

const SIZES: Array<[string, number]> = [
  ['dg_endpoint', L.SIZE.endpoint],
  ['dg_policy_key_v4', L.SIZE.policyKeyV4],
  ['dg_policy_key_v6', L.SIZE.policyKeyV6],
  ['dg_rule', L.SIZE.rule],
  ['dg_rule_list', L.SIZE.ruleList],
  ['dg_learned_key', L.SIZE.learnedKey],
  ['dg_learned_value', L.SIZE.learnedValue],
  ['dg_ct_key', L.SIZE.ctKey],
  ['dg_ct_value', L.SIZE.ctValue],
  ['dg_counters', L.SIZE.counters],
  ['dg_event', L.SIZE.event],
];

// C constant name -> the value layout.ts uses for it.
const CONSTANTS: Record<string, number> = {
  DG_MAX_RULES: L.MAX_RULES, DG_MAX_ENDPOINTS: L.MAX_ENDPOINTS, DG_POLICY_V4_MAX: L.POLICY_V4_MAX,
  DG_POLICY_V6_MAX: L.POLICY_V6_MAX, DG_LEARNED_MAX: L.LEARNED_MAX, DG_CT_MAX: L.CT_MAX, DG_EVENTS_BYTES: L.EVENTS_BYTES,
  DG_DIR_EGRESS: L.Dir.egress, DG_DIR_INGRESS: L.Dir.ingress,
  DG_MODE_NOT_ENFORCED: L.Mode.notEnforced, DG_MODE_STANDARD: L.Mode.standard, DG_MODE_STRICT: L.Mode.strict,
  DG_EP_EGRESS_ISOLATED: L.EpFlag.egressIsolated, DG_EP_INGRESS_ISOLATED: L.EpFlag.ingressIsolated, DG_EP_NO_CT_INSERT: L.EpFlag.noCtInsert,
  DG_TIER_NONE: L.Tier.none, DG_TIER_ADMIN: L.Tier.admin, DG_TIER_NP: L.Tier.np, DG_TIER_BASELINE: L.Tier.baseline,
  DG_ACTION_ACCEPT: L.Action.accept, DG_ACTION_DENY: L.Action.deny, DG_ACTION_PASS: L.Action.pass,
  DG_RULE_FQDN: L.RuleFlag.fqdn, DG_FAMILY_V4: L.Family.v4, DG_FAMILY_V6: L.Family.v6,
  DG_VERDICT_ALLOW: L.Verdict.allow, DG_VERDICT_DENY: L.Verdict.deny,
  DG_REASON_RULE: L.Reason.rule, DG_REASON_NP_NO_MATCH: L.Reason.npNoMatch, DG_REASON_DEFAULT: L.Reason.default,
  DG_REASON_NODE_IP: L.Reason.nodeIp, DG_REASON_SELF: L.Reason.self, DG_REASON_MALFORMED: L.Reason.malformed,
  DG_CT_REPLY_SEEN: L.CtFlag.replySeen,
  DG_CT_TIMEOUT_TCP_S: L.CtTimeoutS.tcp, DG_CT_TIMEOUT_SCTP_S: L.CtTimeoutS.sctp, DG_CT_TIMEOUT_UDP_S: L.CtTimeoutS.udp,
  DG_CT_TIMEOUT_ICMP_S: L.CtTimeoutS.icmp, DG_CT_TIMEOUT_OTHER_S: L.CtTimeoutS.other,
};

function headerConstants(): Map<string, number> {
  const text = readFileSync(join(REPO, 'bpf', 'dnsgate_layout.h'), 'utf8');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^\s*(DG_[A-Z0-9_]+)\s*=\s*([0-9]+)(?:\s*<<\s*([0-9]+))?\s*,/gm)) {
    out.set(m[1] ?? '', Number(m[2]) * 2 ** Number(m[3] ?? 0));
  }
  return out;
}

describe('layout.ts mirrors bpf/dnsgate_layout.h', () => {
  it.each(SIZES)('sizeof(struct %s) = %i', (name, size) => {
    expect(structs.get(name)?.size).toBe(size);
  });

  it.each(Object.entries(L.OFFSETS))('member offsets of struct %s', (name, offsets) => {
    const s = structs.get(name);
    const actual = Object.fromEntries((s?.members ?? []).filter((m) => !m.name.startsWith('_')).map((m) => [m.name, m.bits_offset / 8]));
    expect(actual).toEqual(offsets);
  });

  it('every constant in the header has the same value in layout.ts, and none is missing', () => {
    const fromHeader = headerConstants();
    expect(Object.fromEntries(fromHeader)).toEqual(CONSTANTS);
  });

  it('the object declares every map with the key/value sizes and capacities of layout.ts', () => {
    const obj = BpfObject.open(builtObject('dnsgate'));
    try {
      const decl = Object.fromEntries(
        obj.mapDeclarations().filter((m) => !m.internal).map((m) => [m.name, [m.keySize, m.valueSize, m.maxEntries]]),
      );
      expect(decl).toEqual({
        [L.MAP.endpoints]: [4, L.SIZE.endpoint, L.MAX_ENDPOINTS],
        [L.MAP.policyV4]: [L.SIZE.policyKeyV4, L.SIZE.ruleList, L.POLICY_V4_MAX],
        [L.MAP.policyV6]: [L.SIZE.policyKeyV6, L.SIZE.ruleList, L.POLICY_V6_MAX],
        [L.MAP.learned]: [L.SIZE.learnedKey, L.SIZE.learnedValue, L.LEARNED_MAX],
        [L.MAP.ct]: [L.SIZE.ctKey, L.SIZE.ctValue, L.CT_MAX],
        [L.MAP.counters]: [4, L.SIZE.counters, L.MAX_ENDPOINTS * 2],
        [L.MAP.events]: [0, 0, L.EVENTS_BYTES],
      });
      expect(obj.programDeclarations().map((p) => p.name).sort()).toEqual([L.PROGRAM.fromPod, L.PROGRAM.toPod].sort());
    } finally {
      obj.close();
    }
  });
});
