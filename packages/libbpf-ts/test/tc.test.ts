// tc on the real kernel: a veth pair between two test network namespaces, the fixture's filter
// attached on egress and ingress, real pings passing and being dropped according to the map.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BpfError, ifIndex, sumPerCpuU64, tcAttach, tcDetach, tcHookCreate, tcHookDestroy, tcQuery } from '../src/index.js';
import type { BpfMap, BpfObject, BpfProgram, TcInterface } from '../src/index.js';
import { loadFixture, lpmKey, needRoot, sh, trySh, u32 } from './helpers.js';

const tag = `${process.pid % 100000}`;
const NS_A = `lbts-a-${tag}`;
const NS_B = `lbts-b-${tag}`;
const net = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const IP_A = `${net}.1`;
const IP_B = `${net}.2`;

const PORT = '8080';
// A TCP connect from A to a listener in B (nc, not ping: ping is not installed everywhere).
const ping = (): boolean => trySh('ip', ['netns', 'exec', NS_A, 'nc', '-z', '-w', '1', IP_B, PORT]);
const ownNetns = (): string => readlinkSync('/proc/thread-self/ns/net');

describe.skipIf(!needRoot)('tc', () => {
  let obj: BpfObject;
  let filter: BpfProgram;
  let lpm: BpfMap;
  let counts: BpfMap;
  let a: TcInterface;
  let b: TcInterface;
  let rootNs = '';
  let listener: ChildProcess | undefined;

  beforeAll(async () => {
    rootNs = ownNetns();
    sh('ip', ['netns', 'add', NS_A]);
    sh('ip', ['netns', 'add', NS_B]);
    sh('ip', ['-n', NS_A, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', NS_B]);
    sh('ip', ['-n', NS_A, 'addr', 'add', `${IP_A}/24`, 'dev', 'va']);
    sh('ip', ['-n', NS_B, 'addr', 'add', `${IP_B}/24`, 'dev', 'vb']);
    for (const [ns, dev] of [[NS_A, 'va'], [NS_B, 'vb'], [NS_A, 'lo'], [NS_B, 'lo']] as const) {
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    listener = spawn('ip', ['netns', 'exec', NS_B, 'nc', '-l', '-k', IP_B, PORT], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !trySh('ip', ['netns', 'exec', NS_B, 'nc', '-z', '-w', '1', IP_B, PORT]); i++) await sleep(20);
    obj = loadFixture();
    filter = obj.program('tc_filter');
    lpm = obj.map('lpm_v4');
    counts = obj.map('pcpu_counts');
    a = { ifindex: ifIndex('va', NS_A), netns: NS_A };
    b = { ifindex: ifIndex('vb', NS_B), netns: `/run/netns/${NS_B}` };
  });

  afterAll(() => {
    obj?.close();
    if (listener?.pid !== undefined) listener.kill();
    // Deleting the namespaces removes the veth pair, its qdiscs and filters.
    trySh('ip', ['netns', 'del', NS_A]);
    trySh('ip', ['netns', 'del', NS_B]);
  });

  const dropped = (): bigint => sumPerCpuU64(counts.lookupPerCpu(u32(1))!);
  const seen = (): bigint => sumPerCpuU64(counts.lookupPerCpu(u32(0))!);

  it('resolves interface names inside a namespace and returns to its own namespace', () => {
    expect(a.ifindex).toBeGreaterThan(1);
    expect(ifIndex('lo', NS_A)).toBe(1);
    expect(ownNetns()).toBe(rootNs);
    expect(() => ifIndex('va')).toThrow(BpfError); // not in the root namespace
  });

  it('creates the clsact hook, tolerating one that exists', () => {
    expect(ping()).toBe(true);
    expect(tcHookCreate(a)).toBe(true);
    expect(tcHookCreate(a)).toBe(false);
    expect(sh('ip', ['netns', 'exec', NS_A, 'tc', 'qdisc', 'show', 'dev', 'va'])).toContain('clsact');
    expect(ownNetns()).toBe(rootNs);
  });

  it('attaches on egress, counts real packets and drops by map verdict', () => {
    const att = tcAttach(a, 'egress', filter, { handle: 1, priority: 1 });
    expect(att).toMatchObject({ ifindex: a.ifindex, netns: NS_A, direction: 'egress', handle: 1, priority: 1, progId: filter.info.id });
    expect(tcQuery(a, 'egress', 1, 1)).toBe(filter.info.id);
    expect(tcQuery(a, 'egress', 1, 2)).toBeUndefined();
    expect(tcQuery(a, 'ingress', 1, 1)).toBeUndefined();

    const before = seen();
    expect(ping()).toBe(true);
    expect(seen()).toBeGreaterThan(before);

    lpm.update(lpmKey(IP_B, 32), u32(1));
    const d0 = dropped();
    expect(ping()).toBe(false);
    expect(dropped()).toBeGreaterThan(d0);

    tcDetach(att);
    expect(tcQuery(a, 'egress', 1, 1)).toBeUndefined();
    expect(ping()).toBe(true); // the drop entry is still there, but nothing runs the program
  });

  it('attaches on ingress of the peer, and replace swaps the filter in place', () => {
    expect(tcHookCreate(b)).toBe(true);
    const att = tcAttach(b, 'ingress', filter, { handle: 7, priority: 3 });
    expect(tcQuery(b, 'ingress', 7, 3)).toBe(filter.info.id);
    expect(ping()).toBe(false); // lpm still says drop IP_B

    const dup = catchError(() => tcAttach(b, 'ingress', filter, { handle: 7, priority: 3 }));
    expect(dup).toMatchObject({ op: 'bpf_tc_attach', code: 'EEXIST' });
    const swap = obj.program('tc_swap_mac');
    const replaced = tcAttach(b, 'ingress', swap, { handle: 7, priority: 3, replace: true });
    expect(replaced.progId).toBe(swap.info.id);
    expect(tcQuery(b, 'ingress', 7, 3)).toBe(swap.info.id);

    tcDetach(att);
    lpm.delete(lpmKey(IP_B, 32));
    expect(ping()).toBe(true);
  });

  it('kernel-chosen handle and priority are reported back', () => {
    const att = tcAttach(a, 'ingress', filter);
    expect(att.handle).toBeGreaterThan(0);
    expect(att.priority).toBeGreaterThan(0);
    expect(tcQuery(a, 'ingress', att.handle, att.priority)).toBe(filter.info.id);
    tcDetach(att);
  });

  it('destroys hooks (with every filter on them); ignoreMissing tolerates a second destroy', () => {
    tcAttach(a, 'egress', filter, { handle: 1, priority: 1 });
    tcAttach(a, 'ingress', filter, { handle: 1, priority: 1 });
    tcHookDestroy(a, 'ingress'); // flushes one direction only
    expect(tcQuery(a, 'ingress', 1, 1)).toBeUndefined();
    expect(tcQuery(a, 'egress', 1, 1)).toBe(filter.info.id);
    tcHookDestroy(a);
    expect(tcQuery(a, 'egress', 1, 1)).toBeUndefined();
    expect(sh('ip', ['netns', 'exec', NS_A, 'tc', 'qdisc', 'show', 'dev', 'va'])).not.toContain('clsact');
    expect(() => tcHookDestroy(a)).toThrow(BpfError);
    tcHookDestroy(a, 'both', { ignoreMissing: true });
    tcHookDestroy(b);
    expect(ownNetns()).toBe(rootNs);
  });

  const errors: Array<[string, () => unknown, Partial<BpfError>]> = [
    ['hook on a missing interface', () => tcHookCreate({ ifindex: 999_999 }), { op: 'bpf_tc_hook_create', path: 'ifindex 999999' }],
    ['attach on a missing interface', () => tcAttach({ ifindex: 999_999 }, 'egress', filter), { op: 'bpf_tc_attach' }],
    ['a missing namespace', () => tcHookCreate({ ifindex: 1, netns: 'lbts-no-such-ns' }), { op: 'bpf_tc_hook_create', code: 'ENOENT', path: '/run/netns/lbts-no-such-ns' }],
    ['a query without handle/priority', () => tcQuery(a, 'egress', 0, 0), { op: 'bpf_tc_query', code: 'EINVAL' }],
    ['a missing interface name', () => ifIndex('lbts-nope0'), { op: 'if_nametoindex', code: 'ENODEV', path: 'lbts-nope0' }],
  ];
  it.each(errors)('%s -> typed BpfError', (_name, fn, expected) => {
    const err = catchError(fn);
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject(expected);
    expect(err.errno).toBeGreaterThan(0);
    expect(ownNetns()).toBe(rootNs);
  });
});

function catchError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (err) {
    return err as BpfError;
  }
  throw new Error('expected an error');
}
