// Loads bpf/build/dnsgate.bpf.o through libbpf-ts with its maps pinned in a test-only bpffs
// directory, and runs packets through the programs with BPF_PROG_TEST_RUN. Under test-run the
// skb's device is the loopback (ifindex 1), so tests key their endpoint by ifindex 1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, TcAct } from 'libbpf-ts';
import type { BpfMap, BpfProgram } from 'libbpf-ts';
import {
  MAP,
  PROGRAM,
  encodeEndpoint,
  encodeEndpointKey,
  encodeLearnedKey,
  encodeLearnedValue,
  encodePolicyKeyCidr,
  encodeRuleList,
} from '../../src/datapath/ebpf/layout.js';
import type { DirName, EndpointConfig, Rule } from '../../src/datapath/ebpf/layout.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEST_IFINDEX = 1;

export const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) {
  console.warn('\n*** test/bpf: NOT ROOT and CI is not set: SKIPPING the real-kernel BPF tests ***\n');
}

/** Builds the objects (idempotent, fast when up to date) and returns the path of one of them. */
export function builtObject(name: 'dnsgate' | 'floor'): string {
  execFileSync('bash', [join(REPO, 'scripts/build-bpf.sh')], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  return join(REPO, 'bpf', 'build', `${name}.bpf.o`);
}

export class LoadedDatapath {
  readonly obj: BpfObject;
  readonly pinRoot: string;
  readonly maps: Record<keyof typeof MAP, BpfMap>;
  private readonly progs: Record<DirName, BpfProgram>;

  constructor(tag: string) {
    this.pinRoot = `/sys/fs/bpf/dnsgate-test-${process.pid}-${tag}`;
    rmSync(this.pinRoot, { recursive: true, force: true });
    mkdirSync(this.pinRoot, { recursive: true });
    try {
      this.obj = BpfObject.load(builtObject('dnsgate'), { pinRoot: this.pinRoot });
    } catch (err) {
      rmSync(this.pinRoot, { recursive: true, force: true });
      throw err;
    }
    const m = (name: string): BpfMap => this.obj.map(name);
    this.maps = {
      endpoints: m(MAP.endpoints),
      policyV4: m(MAP.policyV4),
      policyV6: m(MAP.policyV6),
      learned: m(MAP.learned),
      ct: m(MAP.ct),
      counters: m(MAP.counters),
      events: m(MAP.events),
    };
    this.progs = { egress: this.obj.program(PROGRAM.fromPod), ingress: this.obj.program(PROGRAM.toPod) };
  }

  /** Empties every map but the ring buffer and the counters. */
  reset(): void {
    for (const k of ['endpoints', 'policyV4', 'policyV6', 'learned', 'ct'] as const) this.maps[k].clear();
  }

  setEndpoint(ifindex: number, cfg: EndpointConfig): void {
    this.maps.endpoints.update(encodeEndpointKey(ifindex), encodeEndpoint(cfg));
  }

  setPolicy(epId: number, dir: DirName, cidr: string, rules: readonly Rule[]): void {
    const { family, key } = encodePolicyKeyCidr(epId, dir, cidr);
    (family === 4 ? this.maps.policyV4 : this.maps.policyV6).update(key, encodeRuleList(rules));
  }

  /** ttlMs may be negative (already expired). */
  learn(epId: number, fqdnSlot: number, addr: string, ttlMs: number): void {
    const expires = process.hrtime.bigint() + BigInt(Math.round(ttlMs * 1e6));
    this.maps.learned.update(encodeLearnedKey({ epId, fqdnSlot, addr }), encodeLearnedValue(expires < 0n ? 0n : expires));
  }

  /** Runs one frame through the hook of `dir`; returns 'allow' (TC_ACT_OK) or 'deny' (TC_ACT_SHOT). */
  run(dir: DirName, data: Buffer): 'allow' | 'deny' {
    const r = this.progs[dir].testRun({ data, dataOutSize: 0 });
    if (r.retval === TcAct.OK) return 'allow';
    if (r.retval === TcAct.SHOT) return 'deny';
    throw new Error(`unexpected tc verdict ${r.retval}`);
  }

  program(dir: DirName): BpfProgram {
    return this.progs[dir];
  }

  close(): void {
    try {
      this.obj.unpinMaps();
    } finally {
      this.obj.close();
      if (existsSync(this.pinRoot)) rmSync(this.pinRoot, { recursive: true, force: true });
    }
  }
}
