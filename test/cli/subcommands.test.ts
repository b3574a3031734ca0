// Subcommands that parse their own arguments get them untouched from the top-level parser.
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

describe('dnsgate r53-emulator wiring', () => {
  it.each([
    [['r53-emulator', '--help'], 0],
    [['r53-emulator'], 2],
    [['r53-emulator', '--zones', 'examples/r53/zones.yaml', '--firewall', 'examples/r53/firewall.yaml', '--listen', 'nonsense'], 2],
    [['r53-emulator', '--zones', 'no/such/file.yaml', '--firewall', 'examples/r53/firewall.yaml'], 2],
  ])('%j exits %i', async (argv, code) => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(argv, () => undefined)).toBe(code);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('dnsgate coexist wiring', () => {
  it('hands its arguments to the coexistence analysis (JSON report, exit 0)', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const code = await main(
        ['coexist', '-f', 'examples/coexist/cluster', '--firewall', 'examples/coexist/firewall.yaml', '--zones', 'examples/coexist/zones.yaml', '-o', 'json'],
        () => undefined,
      );
      expect(code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const report = JSON.parse(out.join('')) as { rows?: unknown[] };
    expect(Array.isArray(report.rows)).toBe(true);
    expect(report.rows?.length).toBeGreaterThan(0);
  });

  it('exits 2 on a missing firewall file', async () => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['coexist', '-f', 'examples/coexist/cluster', '--firewall', 'nope.yaml'], () => undefined)).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });
});
