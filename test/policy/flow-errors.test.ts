// Bad flows are errors naming the field at fault, never verdicts.
import { describe, expect, it } from 'vitest';
import { Evaluator, type Flow, FlowError, InvalidFlowError, UnknownEndpointError } from '../../src/policy/index.js';
import { STANDARD, baseState } from './support/base.js';

const ev = new Evaluator(baseState());

describe('flow errors', () => {
  it.each<[string, Flow, typeof FlowError, string]>([
    ['unknown pod in from', { from: 'a/ghost', to: 'a/server', protocol: 'TCP', port: 80 }, UnknownEndpointError, 'from'],
    ['unknown pod in to', { from: 'a/client', to: 'zz/server', protocol: 'TCP', port: 80 }, UnknownEndpointError, 'to'],
    ['neither IP nor ns/pod', { from: 'client', to: 'a/server', protocol: 'TCP', port: 80 }, UnknownEndpointError, 'from'],
    ['too many slashes', { from: 'a/b/c', to: 'a/server', protocol: 'TCP', port: 80 }, UnknownEndpointError, 'from'],
    ['empty endpoint', { from: '', to: 'a/server', protocol: 'TCP', port: 80 }, UnknownEndpointError, 'from'],
    ['bad protocol', { from: 'a/client', to: 'a/server', protocol: 'HTTP' as Flow['protocol'], port: 80 }, InvalidFlowError, 'protocol'],
    ['TCP without port', { from: 'a/client', to: 'a/server', protocol: 'TCP' }, InvalidFlowError, 'port'],
    ['port 0', { from: 'a/client', to: 'a/server', protocol: 'UDP', port: 0 }, InvalidFlowError, 'port'],
    ['port 65536', { from: 'a/client', to: 'a/server', protocol: 'UDP', port: 65536 }, InvalidFlowError, 'port'],
    ['fractional port', { from: 'a/client', to: 'a/server', protocol: 'SCTP', port: 1.5 }, InvalidFlowError, 'port'],
    ['empty fqdn', { from: 'a/client', to: '1.1.1.1', protocol: 'TCP', port: 443, fqdn: '' }, InvalidFlowError, 'fqdn'],
    ['IPv4-only pod to an IPv6 literal', { from: 'b/db', to: '2001:db8::1', protocol: 'TCP', port: 443 }, InvalidFlowError, 'to'],
  ])('%s', (_n, flow, cls, field) => {
    let caught: unknown;
    try {
      ev.evaluate(flow, STANDARD);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(cls);
    expect(caught).toBeInstanceOf(FlowError);
    expect((caught as FlowError).field).toBe(field);
    expect((caught as FlowError).message).toContain(`flow ${field}`);
  });

  it('ICMP needs no port', () => {
    expect(ev.evaluate({ from: 'a/client', to: 'a/server', protocol: 'ICMP' }, STANDARD).verdict).toBe('Allow');
  });
});

describe('learnedFromFlows', () => {
  it("turns each flow's fqdn into a learning of the source pod, expiring after the 60 s minimum TTL", () => {
    const flows: Flow[] = [
      { from: 'a/client', to: '93.184.216.34', protocol: 'TCP', port: 443, fqdn: 'WWW.Example.com.' },
      { from: 'a/client', to: '1.1.1.1', protocol: 'TCP', port: 443 },
      { from: 'fd10::2', to: '2001:db8::1', protocol: 'TCP', port: 443, fqdn: 'v6.example.com' },
      { from: '203.0.113.1', to: '1.1.1.1', protocol: 'TCP', port: 443, fqdn: 'not-a-pod.example.com' },
    ];
    expect(ev.learnedFromFlows(flows, 1000)).toEqual([
      { pod: 'a/client', name: 'www.example.com', ip: '93.184.216.34', expiresAt: 61_000 },
      { pod: 'a/server', name: 'v6.example.com', ip: '2001:db8::1', expiresAt: 61_000 },
    ]);
  });
});
