// Agent configuration: defaults, file + flag layering, and errors that name the field.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONFIG_FIELDS } from '../../src/agent/config-fields.js';
import { resolveAgentConfig, resolvConfNameservers } from '../../src/agent/config.js';
import { AgentConfigError } from '../../src/agent/errors.js';
import { parseHostPort } from '../../src/agent/host-port.js';
import { addAgentOptions, overridesFromOptions } from '../../src/cli/agent.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESOLV = () => 'search x\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n';
const file = (value: unknown) => ({ file: { value, path: 'agent.yaml' }, resolvConf: RESOLV });

function errorOf(fn: () => unknown): AgentConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgentConfigError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('agent config', () => {
  it('has a default for every field, and upstreams default to resolv.conf', () => {
    const c = resolveAgentConfig({ resolvConf: RESOLV });
    expect(c).toMatchObject({
      nodeName: undefined,
      mode: 'standard',
      datapath: 'ebpf',
      dns: { upstreams: ['192.0.2.53', 'fe80::1'], clusterDnsIPs: [], minTTL: 60, maxTTL: 86400, maxIPsPerName: 1000, maxLearnedPerPod: 10000, queryFilter: 'off', allowedSuffixes: ['cluster.local'], programTimeoutMs: 250 },
      paths: { bpffs: '/sys/fs/bpf/dnsgate', state: '/var/lib/dnsgate' },
      log: { level: 'info', allowSample: 0.01 },
      reconcile: { debounceMs: 100 },
    });
    expect(c.dns.listen).toEqual([{ host: '127.0.0.1', port: 5353, family: 4 }]);
  });

  it('layers flags over the file over the defaults', () => {
    const c = resolveAgentConfig({
      ...file({ mode: 'strict', dns: { minTTL: 5, maxTTL: 10, upstreams: ['10.0.0.2:5300'] }, log: { level: 'debug' } }),
      overrides: { 'dns.minTTL': '7', 'log.level': 'warn' },
    });
    expect([c.mode, c.dns.minTTL, c.dns.maxTTL, c.dns.upstreams, c.log.level]).toEqual(['strict', 7, 10, ['10.0.0.2:5300'], 'warn']);
  });

  it.each([
    [{ dns: { minTTL: -1 } }, 'dns.minTTL', /between 0 and/],
    [{ dns: { minTTL: 1.5 } }, 'dns.minTTL', /integer/],
    [{ dns: { minTTL: 100, maxTTL: 50 } }, 'dns.maxTTL', />= dns\.minTTL/],
    [{ dns: { queryFilter: 'block' } }, 'dns.queryFilter', /one of off, refuse, nxdomain/],
    [{ dns: { listen: ['10.0.0.1'] } }, 'dns.listen', /has no port/],
    [{ dns: { listen: ['nohost:53'] } }, 'dns.listen', /not an IP address/],
    [{ dns: { upstreams: ['resolver.example'] } }, 'dns.upstreams', /not an IP address/],
    [{ dns: { clusterDnsIPs: ['10.96.0.300'] } }, 'dns.clusterDnsIPs', /not an IP address/],
    [{ dns: { clusterDnsIPs: ['10.96.0.10'] } }, 'dns.listen', /needs an IPv4 listen address/],
    [{ dns: { clusterDnsIPs: ['10.96.0.10'], listen: ['0.0.0.0:53'] } }, 'dns.listen', /not loopback or unspecified/],
    [{ dns: { clusterDnsIPs: ['fd00::a'], listen: ['10.0.0.1:53'] } }, 'dns.listen', /IPv6 listen address/],
    [{ dns: { minTTl: 5 } }, 'dns.minTTl', /unknown field \(known: listen, upstreams/],
    [{ dsn: {} }, 'dsn', /unknown field/],
    [{ dns: 5 }, 'dns', /must be a mapping/],
    [{ mode: 'lenient' }, 'mode', /standard, strict/],
    [{ manifests: 'a.yaml' }, '', null],
    [{ manifests: [3] }, 'manifests', /list of non-empty strings/],
    [{ http: { listen: 'localhost:80' } }, 'http.listen', /not an IP address/],
    [{ log: { allowSample: 2 } }, 'log.allowSample', /between 0 and 1/],
    [{ nodeName: '' }, 'nodeName', /non-empty string/],
    [{ paths: { bpffs: null } }, 'paths.bpffs', /null/],
    [{ dns: { tcpWriteBufferSoftBytes: 1_000_000 } }, 'dns.tcpWriteBufferHardBytes', /SoftBytes \+ 65537 \(1065537\)/],
    [{ dns: { tcpWriteBufferSoftBytes: 1000 } }, 'dns.tcpWriteBufferSoftBytes', /between 16384 and/],
  ])('%j -> error on %s', (value, field, reason) => {
    if (reason === null) {
      expect(resolveAgentConfig(file(value)).manifests).toEqual(['a.yaml']);
      return;
    }
    const err = errorOf(() => resolveAgentConfig(file(value)));
    expect(err.field).toBe(field);
    expect(err.reason).toMatch(reason);
    expect(err.message).toContain('agent.yaml');
  });

  it('names the flag origin for a bad flag value', () => {
    const err = errorOf(() => resolveAgentConfig({ overrides: { 'dns.programTimeoutMs': 'soon' }, resolvConf: RESOLV }));
    expect(err.field).toBe('dns.programTimeoutMs');
    expect(err.origin).toBe('flag');
  });

  it('says when no upstream can be found', () => {
    const err = errorOf(() => resolveAgentConfig({ resolvConf: () => '# empty\n' }));
    expect(err.field).toBe('dns.upstreams');
  });

  it('accepts redirection with a concrete listen address per family', () => {
    const c = resolveAgentConfig(file({ dns: { clusterDnsIPs: ['10.96.0.10', 'FD00::A'], listen: ['10.0.0.1:5353', '[fd00::1]:5353'] } }));
    expect(c.dns.clusterDnsIPs).toEqual(['10.96.0.10', 'fd00::a']);
  });

  it('parses every flag into its field', () => {
    const cmd = addAgentOptions(new Command('agent').exitOverride());
    cmd.parse(['--mode', 'strict', '--min-ttl', '3', '--upstream', '10.0.0.2', '10.0.0.3', '--cluster-dns', '10.96.0.10', '--dns-listen', '10.0.0.1:53', '-f', 'a', 'b', '--node-name', 'n1'], { from: 'user' });
    const c = resolveAgentConfig({ overrides: overridesFromOptions(cmd.opts()), resolvConf: RESOLV });
    expect([c.mode, c.dns.minTTL, c.dns.upstreams, c.dns.clusterDnsIPs, c.manifests, c.nodeName]).toEqual(['strict', 3, ['10.0.0.2', '10.0.0.3'], ['10.96.0.10'], ['a', 'b'], 'n1']);
  });

  it('passes the DNS TCP limits through to the proxy config', () => {
    const cmd = addAgentOptions(new Command('agent').exitOverride());
    cmd.parse(['--dns-tcp-frame-timeout', '750', '--dns-tcp-max-lifetime', '60000', '--dns-tcp-write-soft', '65536', '--dns-tcp-write-hard', '200000'], { from: 'user' });
    const c = resolveAgentConfig({ overrides: overridesFromOptions(cmd.opts()), resolvConf: RESOLV });
    expect([c.dns.tcpFrameTimeoutMs, c.dns.tcpMaxConnectionLifetimeMs, c.dns.tcpWriteBufferSoftBytes, c.dns.tcpWriteBufferHardBytes]).toEqual([750, 60000, 65536, 200000]);
  });

  it('every field has a flag, and the README documents each with its default', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Agent configuration'));
    for (const f of CONFIG_FIELDS) {
      expect(f.flag, f.path).toBeDefined();
      const row = section.split('\n').find((l) => l.startsWith(`| \`${f.path}\` |`));
      expect(row, `README row for ${f.path}`).toBeDefined();
      const shown = f.defaultText ?? JSON.stringify(f.default);
      expect(row, f.path).toContain(shown);
    }
  });

  it('the example config file is valid and sets only known fields', () => {
    const value: unknown = parseYaml(readFileSync(join(REPO, 'manifests/config/agent.yaml'), 'utf8'));
    expect(() => resolveAgentConfig({ file: { value, path: 'agent.yaml' }, resolvConf: RESOLV })).not.toThrow();
  });

  it('reads nameservers from resolv.conf text', () => {
    expect(resolvConfNameservers('nameserver 1.1.1.1\n#nameserver 9.9.9.9\n nameserver ::1\nnameserver bogus\n')).toEqual(['1.1.1.1', '::1']);
  });

  it('parses host:port round trips (generated)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const text = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
        const hp = parseHostPort(text);
        expect(typeof hp).toBe('object');
        if (typeof hp === 'object') {
          expect(hp.port).toBe(port);
          expect(hp.family).toBe(ip.includes(':') ? 6 : 4);
        }
      }),
    );
  });
});
