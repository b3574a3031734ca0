// Objects on the real kernel: load, lookup by name, pin/reuse across opens, typed failures.
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BpfError, BpfObject, MapType, ProgType, openPinnedMap, openPinnedProgram, setLogHandler } from '../src/index.js';
import { BAD_OBJ, TEST_OBJ, makePinDir, needRoot, removePinDir, u32, loadFixture, openFixture } from './helpers.js';

describe.skipIf(!needRoot)('BpfObject', () => {
  let pins = '';
  beforeAll(() => {
    pins = makePinDir('obj');
  });
  afterAll(() => removePinDir(pins));

  it('loads the fixture and finds its maps and programs by name', () => {
    const obj = BpfObject.load(TEST_OBJ, { pinRoot: pins });
    try {
      expect(obj.name).toBe('test_prog');
      expect(obj.loaded).toBe(true);
      const maps = Object.fromEntries(obj.mapDeclarations().map((m) => [m.name, m]));
      expect(maps['lpm_v4']).toMatchObject({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 256 });
      expect(maps['pinned_hash']).toMatchObject({ pinned: true, pinPath: `${pins}/pinned_hash` });
      expect(maps['hash_map']?.pinned).toBe(false);
      expect(obj.programDeclarations().map((p) => p.name).sort()).toEqual(['tc_filter', 'tc_report', 'tc_swap_mac']);
      const prog = obj.program('tc_filter');
      expect(prog.info).toMatchObject({ name: 'tc_filter', type: ProgType.SCHED_CLS, typeName: 'sched_cls' });
      expect(prog.info.tag).toMatch(/^[0-9a-f]{16}$/);
      expect(obj.map('hash_map')).toBe(obj.map('hash_map'));
      expect(obj.map('hash_map').info).toMatchObject({ type: MapType.HASH, keySize: 4, valueSize: 8, object: 'test_prog' });
      expect(existsSync(`${pins}/pinned_hash`)).toBe(true);
    } finally {
      obj.unpinMaps();
      obj.close();
    }
    expect(existsSync(`${pins}/pinned_hash`)).toBe(false);
  });

  it('reuses a map pinned by name across two opens (state survives the first object)', () => {
    const first = BpfObject.load(TEST_OBJ, { pinRoot: pins });
    const second = BpfObject.load(TEST_OBJ, { pinRoot: pins });
    try {
      first.map('pinned_hash').update(u32(1), u32(111));
      expect(second.map('pinned_hash').info.id).toBe(first.map('pinned_hash').info.id);
      expect(second.map('pinned_hash').lookup(u32(1))).toEqual(u32(111));
      // Unpinned maps are per object.
      expect(second.map('hash_map').info.id).not.toBe(first.map('hash_map').info.id);
      first.close();
      const third = BpfObject.load(TEST_OBJ, { pinRoot: pins });
      expect(third.map('pinned_hash').lookup(u32(1))).toEqual(u32(111));
      third.close();
      // A restarted agent opens the pin directly.
      const pinned = openPinnedMap(`${pins}/pinned_hash`);
      expect(pinned.info).toMatchObject({ name: 'pinned_hash', keySize: 4, valueSize: 4, maxEntries: 64 });
      expect(pinned.info.object).toBeUndefined();
      expect(pinned.lookup(u32(1))).toEqual(u32(111));
      pinned.close();
    } finally {
      second.unpinMaps();
      second.close();
      first.close();
    }
  });

  it('refuses to reuse a pin whose definition differs', () => {
    const obj = BpfObject.open(TEST_OBJ, { pinRoot: pins });
    const other = BpfObject.load(TEST_OBJ, { pinRoot: pins });
    try {
      obj.setMapMaxEntries('pinned_hash', 32);
      const err = catchError(() => obj.load());
      expect(err).toBeInstanceOf(BpfError);
      expect(err).toMatchObject({ op: 'bpf_object__load', code: 'EINVAL', object: 'test_prog' });
      expect(err.log).toMatch(/pinned_hash|couldn't reuse/);
    } finally {
      obj.close();
      other.unpinMaps();
      other.close();
    }
  });

  it('pins and unpins a map and a program explicitly, and reopens them by path', () => {
    const obj = loadFixture();
    try {
      const map = obj.map('hash_map');
      map.update(u32(5), Buffer.alloc(8, 7));
      map.pin(`${pins}/explicit_map`);
      const prog = obj.program('tc_filter');
      prog.pin(`${pins}/explicit_prog`);
      obj.close();
      // Pins keep both alive after the object is gone.
      const m = openPinnedMap(`${pins}/explicit_map`);
      expect(m.lookup(u32(5))).toEqual(Buffer.alloc(8, 7));
      const p = openPinnedProgram(`${pins}/explicit_prog`);
      expect(p.info.name).toBe('tc_filter');
      expect(p.testRun({ data: Buffer.alloc(64) }).retval).toBe(0);
      m.unpin(`${pins}/explicit_map`);
      p.unpin(`${pins}/explicit_prog`);
      expect(existsSync(`${pins}/explicit_map`)).toBe(false);
      expect(existsSync(`${pins}/explicit_prog`)).toBe(false);
      m.close();
      p.close();
    } finally {
      obj.close();
    }
  });

  it('honours pre-load configuration: explicit pin path, max entries, autoload', () => {
    const obj = openFixture()
      .setMapPinPath('hash_map', `${pins}/configured_hash`)
      .setMapMaxEntries('hash_map', 77)
      .setProgramAutoload('tc_swap_mac', false);
    try {
      expect(obj.loaded).toBe(false);
      obj.load();
      expect(obj.map('hash_map').info.maxEntries).toBe(77);
      expect(existsSync(`${pins}/configured_hash`)).toBe(true);
      expect(catchError(() => obj.program('tc_swap_mac'))).toMatchObject({ op: 'bpf_program__fd', program: 'tc_swap_mac' });
    } finally {
      obj.unpinMaps();
      obj.close();
    }
  });

  it('adopts an existing map with reuseMap', () => {
    const a = loadFixture();
    const b = openFixture().reuseMap('hash_map', a.map('hash_map'));
    try {
      b.load();
      expect(b.map('hash_map').info.id).toBe(a.map('hash_map').info.id);
    } finally {
      a.close();
      b.close();
    }
  });

  const cases: Array<[string, () => unknown, Partial<BpfError>]> = [
    ['missing file', () => BpfObject.open('/nonexistent/x.bpf.o'), { op: 'bpf_object__open_file', code: 'ENOENT', errno: 2, path: '/nonexistent/x.bpf.o' }],
    ['not an ELF', () => BpfObject.open(notElf()), { op: 'bpf_object__open_file' }],
    ['missing map', () => withLoaded((o) => o.map('nope')), { op: 'bpf_object__find_map_by_name', code: 'ENOENT', map: 'nope', object: 'test_prog' }],
    ['missing program', () => withLoaded((o) => o.program('nope')), { op: 'bpf_object__find_program_by_name', code: 'ENOENT', program: 'nope' }],
    ['configuring a missing map', () => openFixture().setMapMaxEntries('nope', 1), { op: 'bpf_map__set_max_entries', code: 'ENOENT', map: 'nope' }],
    ['map before load', () => openFixture().map('hash_map'), { op: 'bpf_map__fd', code: 'EINVAL', object: 'test_prog' }],
    ['double load', () => withLoaded((o) => o.load()), { op: 'bpf_object__load', code: 'EALREADY' }],
    ['pin root that is not bpffs', () => BpfObject.load(TEST_OBJ, { pinRoot: '/tmp' }), { op: 'bpf_object__load', object: 'test_prog' }],
    ['pin path outside bpffs', () => withLoaded((o) => o.map('hash_map').pin('/tmp/lbts-not-bpffs')), { op: 'bpf_obj_pin', map: 'hash_map', path: '/tmp/lbts-not-bpffs' }],
    ['pin into a missing directory', () => withLoaded((o) => o.map('hash_map').pin('/sys/fs/bpf/lbts-no-such-dir/x')), { op: 'bpf_obj_pin', code: 'ENOENT' }],
    ['open a missing pin', () => openPinnedMap('/sys/fs/bpf/lbts-no-such-pin'), { op: 'bpf_obj_get', code: 'ENOENT', path: '/sys/fs/bpf/lbts-no-such-pin' }],
    ['unpin a missing pin', () => withLoaded((o) => o.map('hash_map').unpin('/sys/fs/bpf/lbts-no-such-pin')), { op: 'unlink', code: 'ENOENT', errno: 2, map: 'hash_map' }],
  ];
  it.each(cases)('%s -> typed BpfError', (_name, fn, expected) => {
    const err = catchError(fn);
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject(expected);
    expect(err.errno).toBeGreaterThan(0);
    expect(err.message).toContain(expected.op ?? '');
  });

  it('opening a pinned program as a map fails with a typed error', () => {
    const obj = loadFixture();
    try {
      obj.program('tc_filter').pin(`${pins}/a_prog`);
      const err = catchError(() => openPinnedMap(`${pins}/a_prog`));
      expect(err).toMatchObject({ op: 'bpf_obj_get_info_by_fd', path: `${pins}/a_prog` });
    } finally {
      obj.close();
      removePinDir(`${pins}/a_prog`);
    }
  });

  it('a verifier rejection carries the verifier log and reaches the log handler', () => {
    const seen: string[] = [];
    setLogHandler((level, msg) => seen.push(`${level}:${msg}`));
    try {
      const err = catchError(() => BpfObject.load(BAD_OBJ));
      expect(err).toBeInstanceOf(BpfError);
      expect(err).toMatchObject({ op: 'bpf_object__load', code: 'EACCES', errno: 13, object: 'bad_prog' });
      expect(err.log).toContain('unchecked_read');
      expect(err.log).toMatch(/outside of the packet|invalid access to packet/);
      expect(seen.some((s) => s.startsWith('warn:') && s.includes('BEGIN PROG LOAD LOG'))).toBe(true);
    } finally {
      setLogHandler(null);
    }
  });

  it('maps and programs of a closed object refuse to work (their fds may be reused)', () => {
    const obj = loadFixture();
    const map = obj.map('hash_map');
    const prog = obj.program('tc_filter');
    obj.close();
    obj.close(); // idempotent
    expect(obj.closed).toBe(true);
    expect(catchError(() => map.lookup(u32(1)))).toMatchObject({ code: 'EBADF', map: 'hash_map' });
    expect(catchError(() => prog.testRun({ data: Buffer.alloc(64) }))).toMatchObject({ code: 'EBADF', program: 'tc_filter' });
    expect(catchError(() => obj.map('hash_map'))).toMatchObject({ code: 'EBADF' });
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

function withLoaded<T>(fn: (o: BpfObject) => T): T {
  const o = loadFixture();
  try {
    return fn(o);
  } finally {
    o.close();
  }
}

function notElf(): string {
  const p = `/tmp/lbts-not-elf-${process.pid}.o`;
  writeFileSync(p, 'not an ELF file');
  return p;
}
