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
