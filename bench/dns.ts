// bench:dns (BENCHMARKS.md): dnsperf through the dnsgate proxy (1000 domain policies loaded,
// learning on: every answer programs entries into the in-memory datapath), against the same
// upstream queried directly (floor) and through dnsmasq as a plain forwarder with its cache off
// (peer). Same upstream, same query file, one run; UDP then TCP. Writes bench/results/dns.json.
//
// The proxy runs in a child process (this file with --serve-proxy) so its CPU and RSS are its own.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const POLICIES = 1000;
const NAMES = 5000;
const MAX_SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 8);
const PACED_SECONDS = Number(process.env.BENCH_DNS_PACED_SECONDS ?? 5);
const PACED_QPS = 10_000;
const POD_IP = '127.0.0.1';

if (process.argv[2] === '--serve-proxy') {
  await serveProxy(Number(process.argv[3]), process.argv[4]!);
} else if (process.argv[2] === '--serve-upstream') {
  await serveUpstream(Number(process.argv[3]));
} else {
  await main();
}

// ------------------------------------------------------------------------------------------------
// child: the upstream. dnsmasq answers TCP one query per ~40 ms here (it writes the length prefix
// and the message separately, so Nagle meets delayed ACK), which would make every TCP figure
// measure that; this minimal authoritative server answers every A/AAAA query under bench.test
// (NODATA otherwise) over UDP and pipelined TCP, by copying the question and adding one record.

async function serveUpstream(port: number): Promise<void> {
  const dgram = await import('node:dgram');
  const net = await import('node:net');
  const answer = (q: Buffer): Buffer | undefined => {
    if (q.length < 17 || q.readUInt16BE(4) !== 1) return undefined;
    let at = 12;
    while (at < q.length && q[at]! !== 0) at += q[at]! + 1;
    const end = at + 5;
    if (end > q.length) return undefined;
    const qtype = q.readUInt16BE(at + 1);
    const rdlen = qtype === 1 ? 4 : qtype === 28 ? 16 : 0;
    const out = Buffer.alloc(end + (rdlen > 0 ? 12 + rdlen : 0));
    q.copy(out, 0, 0, end);
    out[2] = 0x84 | (q[2]! & 0x01); // QR, AA, RD copied
    out[3] = 0x80; // RA, NOERROR
    out.writeUInt16BE(rdlen > 0 ? 1 : 0, 6);
    out.writeUInt32BE(0, 8);
    if (rdlen > 0) {
      out.writeUInt16BE(0xc00c, end);
      out.writeUInt16BE(qtype, end + 2);
      out.writeUInt16BE(1, end + 4);
      out.writeUInt32BE(300, end + 6);
      out.writeUInt16BE(rdlen, end + 10);
      if (qtype === 1) out.set([192, 0, 2, 1], end + 12);
      else out.set([0x20, 0x01, 0x0d, 0xb8], end + 12);
    }
    return out;
  };
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const a = answer(msg);
    if (a !== undefined) udp.send(a, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
  udp.setRecvBufferSize(1 << 22);
  udp.setSendBufferSize(1 << 22);
  const tcp = net.createServer({ noDelay: true }, (s) => {
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const outs: Buffer[] = [];
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const a = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (a !== undefined) outs.push(Buffer.from([a.length >> 8, a.length & 0xff]), a);
      }
      if (outs.length > 0) s.write(Buffer.concat(outs));
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

// ------------------------------------------------------------------------------------------------
// child: the proxy

async function serveProxy(port: number, upstream: string): Promise<void> {
  const { pino } = await import('pino');
  const { DnsProxy } = await import('../src/dns/proxy.js');
  const { StaticPolicyView } = await import('../src/dns/policy-view.js');
  const { MemoryDatapath } = await import('../src/datapath/memory/memory-datapath.js');
  const view = new StaticPolicyView();
  const domainRules = Array.from({ length: POLICIES }, (_, i) => ({ rule: `bench/policy-${i}/egress/0`, pattern: `*.svc${i}.bench.test` }));
  view.setPod([POD_IP], { pod: 'bench/client', domainRules, egressIsolated: true });
  const datapath = new MemoryDatapath({ learnLogLimit: 0 });
  const proxy = new DnsProxy(
    { listen: [{ host: '127.0.0.1', port }], upstreams: [upstream], maxInflightPerClient: 50_000, maxInflight: 50_000 },
    { view, datapath, logger: pino({ level: 'warn' }, process.stderr) },
  );
  await proxy.start();
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  process.on('SIGTERM', () => {
    void (async () => {
      const queries = await proxy.metrics.queries.get();
      const byResult: Record<string, number> = {};
      for (const v of queries.values) byResult[`${v.labels.transport}/${v.labels.result}`] = v.value;
      const c = datapath.counters();
      const eventLoopDelayUs = { p50: Math.round(loop.percentile(50) / 1000), p99: Math.round(loop.percentile(99) / 1000), max: Math.round(loop.max / 1000) };
      process.stdout.write(`${JSON.stringify({ stats: { byResult, learnCalls: c.learnCalls, learnedEntries: c.learnedEntries, eventLoopDelayUs } })}\n`);
      await proxy.close();
      process.exit(0);
    })();
  });
}

// ------------------------------------------------------------------------------------------------
// parent: orchestration and measurement

interface Target {
  name: 'floor' | 'dnsmasq' | 'dnsgate';
  port: number;
  /** Processes whose CPU counts for this target (the forwarder, not the shared upstream). */
  pids: () => number[];
}

interface RunResult {
  qps: number;
  lost: number;
  cpuCores: number;
}

interface Percentiles {
  p50_us: number;
  p99_us: number;
  p999_us: number;
  samples: number;
  achieved_qps: number;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function freePortPair(): number {
  // Ports from a range the kernel does not hand out as ephemeral (32768-60999 by default).
  return 20_000 + Math.floor(Math.random() * 10_000);
}

function startDnsmasq(args: string[]): ChildProcess {
  const child = spawn('dnsmasq', ['--no-daemon', '--no-hosts', '--no-resolv', '--bind-interfaces', '--listen-address=127.0.0.1', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return child;
}

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = spawnSync('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=1', 'h0.svc0.bench.test']);
    if (r.status === 0 && String(r.stdout).includes('status: NOERROR')) return;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  throw new Error(`nothing answers on port ${port}`);
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime (fields 14-17; index 11-14 after the command)
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

function rssHighWaterMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

function dnsperf(port: number, mode: 'udp' | 'tcp', file: string, extra: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-m', mode, '-d', file, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

async function maxRun(t: Target, mode: 'udp' | 'tcp', file: string): Promise<RunResult> {
  const pids = t.pids();
  const before = pids.map(cpuTicks);
  const started = process.hrtime.bigint();
  const out = await dnsperf(t.port, mode, file, ['-l', String(MAX_SECONDS), '-c', '10', '-q', '200', '-t', '2']);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const ticks = pids.map(cpuTicks).reduce((a, b, i) => a + b - before[i]!, 0);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  return { qps, lost, cpuCores: ticks / 100 / wall };
}

async function pacedRun(t: Target, mode: 'udp' | 'tcp', file: string): Promise<Percentiles> {
  const out = await dnsperf(t.port, mode, file, ['-l', String(PACED_SECONDS), '-Q', String(PACED_QPS), '-c', '10', '-q', '500', '-t', '2', '-v']);
  const lat: number[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) lat.push(v * 1e6);
  }
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN);
  return { p50_us: pct(0.5), p99_us: pct(0.99), p999_us: pct(0.999), samples: lat.length, achieved_qps: Math.round(lat.length / PACED_SECONDS) };
}

async function main(): Promise<void> {
  const missing = ['dnsperf', 'dnsmasq', 'dig'].filter((c) => !have(c));
  const resultsDir = join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const machine = `${cpus().length} cores, kernel ${release()}, node ${process.version}`;
  if (missing.length > 0) {
    const msg = `could not measure: missing ${missing.join(', ')}`;
    writeFileSync(join(resultsDir, 'dns.json'), JSON.stringify({ benchmark: 'dns', when: new Date().toISOString(), machine, headline: { metric: 'qps ratio dnsgate/dnsmasq', value: null, goal: 1.5, better: 'higher' }, results: { error: msg } }, null, 2));
    console.log(msg);
    process.exitCode = 1;
    return;
  }

  const dir = mkdtempSync(join(tmpdir(), 'dnsgate-bench-dns-'));
  const file = join(dir, 'queries.txt');
  writeFileSync(file, Array.from({ length: NAMES }, (_, i) => `h${i}.svc${i % POLICIES}.bench.test A\n`).join(''));

  const base = freePortPair();
  const upPort = base;
  const peerPort = base + 1;
  const gatePort = base + 2;
  const children: ChildProcess[] = [];
  const cleanup = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);

  try {
    const upstream = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve-upstream', String(upPort)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(upstream);
    const peer = startDnsmasq([`--port=${peerPort}`, `--server=127.0.0.1#${upPort}`, '--cache-size=0', '--dns-forward-max=1000']);
    children.push(peer);
    const gate = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve-proxy', String(gatePort), `127.0.0.1:${upPort}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(gate);
    const gateLines = createInterface({ input: gate.stdout! });
    const gateMessages: Record<string, unknown>[] = [];
    gateLines.on('line', (l) => gateMessages.push(JSON.parse(l) as Record<string, unknown>));
    await Promise.all([waitReady(upPort), waitReady(peerPort), waitReady(gatePort)]);

    const targets: Target[] = [
      { name: 'floor', port: upPort, pids: () => [upstream.pid!] },
      { name: 'dnsmasq', port: peerPort, pids: () => [peer.pid!] },
      { name: 'dnsgate', port: gatePort, pids: () => [gate.pid!] },
    ];
    const results: Record<string, unknown> = { policies: POLICIES, distinct_names: NAMES, max_run_seconds: MAX_SECONDS, paced_qps: PACED_QPS };
    const rows: string[] = [];
    for (const mode of ['udp', 'tcp'] as const) {
      // Alternate the order between transports so no target always runs on a cold or hot machine.
      const order = mode === 'udp' ? targets : [...targets].reverse();
      const got: Record<string, { max: RunResult; paced: Percentiles }> = {};
      for (const t of order) {
        const max = await maxRun(t, mode, file);
        const paced = await pacedRun(t, mode, file);
        got[t.name] = { max, paced };
      }
      for (const t of targets) {
        const { max, paced } = got[t.name]!;
        results[`${mode}_${t.name}_qps`] = Math.round(max.qps);
        results[`${mode}_${t.name}_lost_queries`] = max.lost;
        results[`${mode}_${t.name}_cpu_cores`] = Number(max.cpuCores.toFixed(2));
        results[`${mode}_${t.name}_p50_us_at_10k_qps`] = paced.p50_us;
        results[`${mode}_${t.name}_p99_us_at_10k_qps`] = paced.p99_us;
        results[`${mode}_${t.name}_p999_us_at_10k_qps`] = paced.p999_us;
        results[`${mode}_${t.name}_paced_achieved_qps`] = paced.achieved_qps;
        rows.push(
          `${mode.padEnd(4)} ${t.name.padEnd(8)} ${String(Math.round(max.qps)).padStart(8)} qps  cpu ${max.cpuCores.toFixed(2)}  ` +
            `p50 ${paced.p50_us} us  p99 ${paced.p99_us} us  p99.9 ${paced.p999_us} us  (paced ${paced.achieved_qps} qps)`,
        );
      }
      results[`${mode}_qps_ratio_dnsgate_dnsmasq`] = Number((got.dnsgate!.max.qps / got.dnsmasq!.max.qps).toFixed(3));
      results[`${mode}_added_p99_us_at_10k_qps`] = got.dnsgate!.paced.p99_us - got.floor!.paced.p99_us;
    }
    results.rss_mb_dnsgate = rssHighWaterMb(gate.pid!);
    results.rss_mb_dnsmasq = rssHighWaterMb(peer.pid!);
    results.rss_mb_upstream = rssHighWaterMb(upstream.pid!);

    gate.kill('SIGTERM');
    await new Promise((r) => gate.once('close', r));
    const stats = gateMessages.find((m) => m.stats !== undefined)?.stats as
      | { learnCalls: number; learnedEntries: number; byResult: Record<string, number>; eventLoopDelayUs: Record<string, number> }
      | undefined;
    results.dnsgate_event_loop_delay_us = stats?.eventLoopDelayUs;
    results.dnsgate_learn_calls = stats?.learnCalls;
    results.dnsgate_learned_entries = stats?.learnedEntries;
    results.dnsgate_results = stats?.byResult;

    const headline = results.udp_qps_ratio_dnsgate_dnsmasq as number;
    const out = {
      benchmark: 'dns',
      when: new Date().toISOString(),
      machine,
      headline: { metric: 'qps ratio dnsgate/dnsmasq (UDP)', value: headline, goal: 1.5, better: 'higher' },
      results,
    };
    writeFileSync(join(resultsDir, 'dns.json'), `${JSON.stringify(out, null, 2)}\n`);
    console.log(`bench:dns  ${machine}; ${POLICIES} policies, learning on (${stats?.learnCalls ?? '?'} learn calls)`);
    for (const r of rows) console.log(r);
    console.log(`dnsgate event-loop delay over the whole run (us): ${JSON.stringify(stats?.eventLoopDelayUs)}`);
    console.log(`tcp qps ratio dnsgate/dnsmasq: ${String(results.tcp_qps_ratio_dnsgate_dnsmasq)}`);
    console.log(`added p99 at ${PACED_QPS} qps: udp ${String(results.udp_added_p99_us_at_10k_qps)} us, tcp ${String(results.tcp_added_p99_us_at_10k_qps)} us (goal <= 250)`);
    console.log(`headline: qps ratio dnsgate/dnsmasq (UDP) = ${headline} (goal >= 1.5)`);
  } finally {
    cleanup();
  }
}
