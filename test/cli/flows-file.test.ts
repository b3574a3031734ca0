import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/cli/errors.js';
import { parseFlows } from '../../src/cli/flows-file.js';

function problemsOf(text: string): readonly string[] {
  try {
    parseFlows(text, 'flows.yaml');
  } catch (err) {
    if (err instanceof InputError) return err.details.length > 0 ? err.details : [err.message];
    throw err;
  }
  return [];
}

function messageOf(text: string): string {
  try {
    parseFlows(text, 'flows.yaml');
  } catch (err) {
    if (err instanceof InputError) return [err.message, ...err.details].join('\n');
    throw err;
  }
  return '';
}

describe('parseFlows', () => {
  it('reads YAML and JSON lists, normalising protocol case and the fqdn', () => {
    const yaml = `
- {from: ns/a, to: ns/b, protocol: tcp, port: 80}
- {from: ns/a, to: 192.0.2.1, protocol: TCP, port: 443, fqdn: API.Example.com.}
- {from: 2001:db8::1, to: ns/b, protocol: ICMP}
`;
    expect(parseFlows(yaml, 'f')).toEqual([
      { from: 'ns/a', to: 'ns/b', protocol: 'TCP', port: 80 },
      { from: 'ns/a', to: '192.0.2.1', protocol: 'TCP', port: 443, fqdn: 'api.example.com' },
      { from: '2001:db8::1', to: 'ns/b', protocol: 'ICMP' },
    ]);
    expect(parseFlows('[{"from":"ns/a","to":"ns/b","protocol":"UDP","port":53}]', 'f')).toEqual([
      { from: 'ns/a', to: 'ns/b', protocol: 'UDP', port: 53 },
    ]);
  });

  it.each([
    ['not a list', '{from: a}', /expected a list of flows/],
    ['unknown field', '- {from: ns/a, to: ns/b, protocol: TCP, port: 1, colour: red}', /\[0\]\.colour: unknown field/],
    ['missing from', '- {to: ns/b, protocol: TCP, port: 1}', /\[0\]\.from: required/],
    ['bad endpoint', '- {from: "a b", to: ns/b, protocol: TCP, port: 1}', /\[0\]\.from: "a b" is neither/],
    ['bad protocol', '- {from: ns/a, to: ns/b, protocol: HTTP, port: 1}', /\[0\]\.protocol: required, one of/],
    ['port 0', '- {from: ns/a, to: ns/b, protocol: TCP, port: 0}', /\[0\]\.port: required for TCP/],
    ['port too big', '- {from: ns/a, to: ns/b, protocol: UDP, port: 65536}', /\[0\]\.port/],
    ['port as string', '- {from: ns/a, to: ns/b, protocol: UDP, port: "53"}', /\[0\]\.port/],
    ['icmp with port', '- {from: ns/a, to: ns/b, protocol: ICMP, port: 8}', /ICMP flows have no port/],
    ['fqdn to a pod', '- {from: ns/a, to: ns/b, protocol: TCP, port: 1, fqdn: a.example.com}', /needs "to" to be an IP literal/],
    ['fqdn from an IP', '- {from: 192.0.2.9, to: 192.0.2.1, protocol: TCP, port: 1, fqdn: a.example.com}', /needs "from" to be a pod/],
    ['wildcard fqdn', '- {from: ns/a, to: 192.0.2.1, protocol: TCP, port: 1, fqdn: "*.example.com"}', /wildcards are for policies/],
    ['invalid fqdn', '- {from: ns/a, to: 192.0.2.1, protocol: TCP, port: 1, fqdn: "-bad-.com"}', /not a valid domain name/],
    ['not an object', '- 42', /\[0\]: expected an object/],
    ['broken yaml', '- {from: [', /not valid YAML/],
  ])('rejects %s', (_name, text, want) => {
    expect(messageOf(text)).toMatch(want);
  });

  it('reports every malformed flow, not just the first', () => {
    const problems = problemsOf(`
- {from: ns/a, to: ns/b, protocol: TCP}
- {from: ns/a, to: ns/b, protocol: XTP, port: 1}
`);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/\[0\]\.port/);
    expect(problems[1]).toMatch(/\[1\]\.protocol/);
  });
});
