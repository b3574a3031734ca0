// Shared by the libbpf-ts tests: root gating, fixture paths, unique pin dirs, packet building.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { BpfObject } from '../src/index.js';

/** Real kernel tests need root; on a laptop they skip loudly, under CI=true they must run. */
export const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) {
  console.warn('\n*** libbpf-ts: SKIPPING kernel tests: not root (run as root or with CI=true) ***\n');
}

export const fixture = (name: string): string =>
  new URL(`../build/fixtures/${name}.bpf.o`, import.meta.url).pathname;

export const TEST_OBJ = fixture('test_prog');
export const BAD_OBJ = fixture('bad_prog');

/** A fresh directory on bpffs for one test file's pins; remove it with removePinDir. */
export function makePinDir(tag: string): string {
  const dir = `/sys/fs/bpf/lbts-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function removePinDir(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

export const u64 = (n: bigint | number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** The LPM trie key of the fixture: { u32 prefixlen (host order); u32 addr (network order) }. */
export function lpmKey(ip: string, prefixlen: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(prefixlen);
  ip.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
  return b;
}

function ipBytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum += (buf[i]! << 8) + (buf[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface TcpPacket {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: Buffer;
}

/** Ethernet + IPv4 + TCP SYN with correct IPv4 and TCP checksums. */
export function tcpPacket(p: TcpPacket): Buffer {
  const payload = p.payload ?? Buffer.alloc(0);
  const eth = Buffer.from([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(p.sport, 0);
  tcp.writeUInt16BE(p.dport, 2);
  tcp.writeUInt32BE(1, 4);
  tcp.writeUInt8(5 << 4, 12);
  tcp.writeUInt8(0x02, 13); // SYN
  tcp.writeUInt16BE(65535, 14);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + tcp.length + payload.length, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(6, 9);
  Buffer.from(ipBytes(p.src)).copy(ip, 12);
  Buffer.from(ipBytes(p.dst)).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 6]), Buffer.alloc(2), tcp, payload]);
  pseudo.writeUInt16BE(tcp.length + payload.length, 10);
  tcp.writeUInt16BE(checksum(pseudo), 16);
  return Buffer.concat([eth, ip, tcp, payload]);
}

/** Runs a command, returning stdout; throws with stderr on failure. */
export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command and reports success instead of throwing (for cleanup and expected failures). */
export function trySh(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens the test object without touching the global pin root: libbpf pins LIBBPF_PIN_BY_NAME maps
 * under /sys/fs/bpf when no pinRoot is given, so tests that do not test pinning clear it.
 */
export function openFixture(path: string = TEST_OBJ): BpfObject {
  const obj = BpfObject.open(path);
  for (const m of obj.mapDeclarations()) if (m.pinPath !== undefined) obj.setMapPinPath(m.name, null);
  return obj;
}

export function loadFixture(path: string = TEST_OBJ): BpfObject {
  const obj = openFixture(path);
  try {
    obj.load();
  } catch (err) {
    obj.close();
    throw err;
  }
  return obj;
}
