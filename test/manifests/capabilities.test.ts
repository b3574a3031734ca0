// The agent container's capability set, taken from the DaemonSet, is enough for what the agent does
// with the kernel, and each capability in it is needed: a child process running as root but with
// exactly those capabilities (setpriv bounding set, as the container runtime gives them) loads the
// eBPF object with pinned maps, attaches the tc programs to a veth and programs nftables, in a
// network namespace of its own; without any one of them, loading fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OBJECT_FILE } from '../../src/datapath/ebpf/layout.js';
import { at, findObject, REPO_ROOT } from './manifest-files.js';

const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n*** test/manifests/capabilities: not root; the DaemonSet capability checks are SKIPPED (they run under CI=true) ***\n');

const ds = findObject('DaemonSet', 'dnsgate');
const agent = (at(ds, 'spec.template.spec.containers') as { name: string }[]).find((c) => c.name === 'agent')!;
const CAPS = at(agent, 'securityContext.capabilities.add') as string[];

const tag = `dgcap${process.pid}`;
const netns = `${tag}-ns`;
const PIN_PREFIX = `${tag}-`;

function probe(caps: readonly string[], label: string): Record<string, string> {
  const bounding = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
  const r = spawnSync(
    'nsenter',
    [`--net=/run/netns/${netns}`, 'setpriv', '--bounding-set', bounding, '--inh-caps', '-all', '--', process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/manifests/fixtures/cap-probe.ts'), `/sys/fs/bpf/${PIN_PREFIX}${label}`, 'vcap0', `${tag}_${label}`],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`cap-probe (${bounding}) exited ${String(r.status)}: ${r.stderr.slice(-800)}`);
  return JSON.parse(line) as Record<string, string>;
}

describe.skipIf(!needRoot)('agent capabilities on the real kernel', () => {
  beforeAll(() => {
    expect(existsSync(join(REPO_ROOT, OBJECT_FILE)), `${OBJECT_FILE} (scripts/build-bpf.sh)`).toBe(true);
    execFileSync('ip', ['netns', 'add', netns]);
    execFileSync('ip', ['-n', netns, 'link', 'add', 'vcap0', 'type', 'veth', 'peer', 'name', 'vcap1']);
    execFileSync('ip', ['-n', netns, 'link', 'set', 'vcap0', 'up']);
  });

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', netns]);
    for (const d of existsSync('/sys/fs/bpf') ? readdirSync('/sys/fs/bpf') : []) if (d.startsWith(PIN_PREFIX)) rmSync(join('/sys/fs/bpf', d), { recursive: true, force: true });
  });

  it('the DaemonSet adds BPF, PERFMON and NET_ADMIN', () => {
    expect([...CAPS].sort()).toEqual(['BPF', 'NET_ADMIN', 'PERFMON']);
  });

  it('with exactly those, the object loads with pinned maps, the programs attach and nft works', () => {
    expect(probe(CAPS, 'all')).toEqual({ load: 'ok', attach: 'ok', nft: 'ok' });
  });

  it.each(['BPF', 'PERFMON', 'NET_ADMIN'])('without %s, loading the object fails', (missing) => {
    const r = probe(CAPS.filter((c) => c !== missing), missing.toLowerCase());
    expect(r.load).not.toBe('ok');
    expect(r.load).toMatch(/EPERM|EACCES/);
  });
});
