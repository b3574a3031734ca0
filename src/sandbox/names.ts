// Names of everything a harness creates. All start with the harness prefix, which starts with
// SANDBOX_PREFIX, so `sweep(prefix)` finds a crashed run's leftovers and nothing else. Interface
// names must fit IFNAMSIZ (15 characters): prefix (8) + role letter + index (up to 4 digits).
import { randomBytes } from 'node:crypto';
import { SandboxConfigError } from './errors.js';

export const SANDBOX_PREFIX = 'dgs';
const MAX_IFNAME = 15;

/** A fresh per-harness prefix: "dgs" + 5 random base-32 characters. */
export function newPrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(5);
  let out = SANDBOX_PREFIX;
  for (const b of bytes) out += alphabet[b % 32];
  return out;
}

export function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{2,9}$/.test(prefix)) throw new SandboxConfigError('prefix', `"${prefix}" must be 3-10 lowercase letters/digits starting with a letter`);
}

export function ifName(prefix: string, role: 'p' | 'd' | 'o' | 'x', index = 0): string {
  const name = `${prefix}${role}${index}`;
  if (name.length > MAX_IFNAME) throw new SandboxConfigError('prefix', `interface name ${name} is longer than ${MAX_IFNAME} characters`);
  return name;
}

/** Readable netns names: "<prefix>-<namespace>-<pod>", sanitised and bounded. */
export function podNetnsName(prefix: string, namespace: string, name: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return `${prefix}-${clean(namespace)}-${clean(name)}`.slice(0, 120);
}
