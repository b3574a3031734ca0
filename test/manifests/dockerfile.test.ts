// The Dockerfile cannot be built here (no Docker engine), so its parts are checked against the code
// they package: the build stage gets every input the build reads and .dockerignore drops none of
// them; the runtime stage holds every file the code opens at run time, at the place the code looks
// for it; the image runs what the DaemonSet asks of it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRD_FILES } from '../../src/api/crds.js';
import { OBJECT_FILE } from '../../src/datapath/ebpf/layout.js';
import { at, findObject, MANIFESTS_ROOT, readDocs, REPO_ROOT, type Obj } from './manifest-files.js';

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile -> stages of instructions (line continuations joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!op || args === undefined) throw new Error(`unparsable Dockerfile line: ${line}`);
    if (op.toUpperCase() === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from: from!, ...(name ? { name } : {}), instructions: [] });
    } else stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(text);
const [build, runtime] = stages as [Stage, Stage];
const copies = (s: Stage): { from?: string; sources: string[]; dest: string }[] =>
  s.instructions
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const parts = i.args.split(/\s+/);
      const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : undefined;
      const dest = parts.pop()!;
      return { ...(from ? { from } : {}), sources: parts, dest };
    });
const runs = (s: Stage): string => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
const workdir = (s: Stage): string => s.instructions.filter((i) => i.op === 'WORKDIR').at(-1)!.args;

/** Where a file of the build context ends up in the build stage, or undefined when not copied. */
function inBuildStage(file: string): string | undefined {
  for (const c of copies(build)) {
    for (const src of c.sources) {
      const re = new RegExp(`^${src.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
      if (re.test(file)) return src.includes('*') || c.dest.endsWith('/') ? join(c.dest, file.slice(file.lastIndexOf('/', src.length) + 1)) : join(c.dest, file.slice(src.length));
    }
  }
  return undefined;
}

/** .dockerignore as Docker reads it: patterns anchored at the context root, `**` any depth, `*`
 * within one path segment, a match on a directory covers everything below it. */
function ignored(file: string): boolean {
  const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return patterns.some((p) => {
    const re = p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .split('**/')
      .map((part) => part.replace(/\*/g, '[^/]*'))
      .join('(?:.*/)?');
    return new RegExp(`^${re}(/|$)`).test(file);
  });
}

/** Is `path` (relative to the runtime WORKDIR) put in place by a runtime COPY? */
function inRuntime(path: string): boolean {
  return copies(runtime).some((c) => {
    const dest = c.dest.replace(/\/$/, '').replace(/^\.\/?/, '');
    const base = c.dest.endsWith('/') ? join(dest, c.sources[0]!.split('/').pop()!) : dest;
    return path === base || path.startsWith(`${base}/`) || (dest === '' && path === c.sources[0]!.split('/').pop());
  });
}

describe('Dockerfile', () => {
  it('says in a comment that CI does not build it (no Docker engine here)', () => {
    expect(text).toMatch(/^#.*CI does not build this image/m);
    expect(text).toMatch(/no Docker engine/);
  });

  it('is two stages: node:20-bookworm building, a slim Debian bookworm running', () => {
    expect(stages).toHaveLength(2);
    expect(build.from).toBe('node:20-bookworm');
    expect(runtime.from).toMatch(/bookworm-slim$/);
    for (const pkg of ['clang', 'libbpf-dev']) expect(runs(build)).toMatch(new RegExp(`\\b${pkg}\\b`));
    for (const pkg of ['libbpf1', 'nftables', 'iproute2']) expect(runs(runtime)).toMatch(new RegExp(`\\b${pkg}\\b`));
  });

  it.each([
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'packages/libbpf-ts/package.json',
    'packages/libbpf-ts/binding.gyp',
    'packages/libbpf-ts/native/addon.cc',
    'packages/libbpf-ts/src/index.ts',
    'packages/libbpf-ts/tsconfig.json',
    'scripts/build-bpf.sh',
    'bpf/dnsgate.bpf.c',
    'bpf/dnsgate_layout.h',
    'src/cli/index.ts',
    'bin/dnsgate.js',
    ...CRD_FILES.map((f) => `manifests/${f}`),
  ])('the build stage gets %s, and .dockerignore keeps it', (file) => {
    expect(inBuildStage(file), `no COPY brings ${file}`).toBeDefined();
    expect(ignored(file), `.dockerignore drops ${file}`).toBe(false);
  });

  it.each(['node_modules/yaml/package.json', 'dist/cli/index.js', 'bpf/build/dnsgate.bpf.o', 'packages/libbpf-ts/build/Release/bpf_ts.node', '.git/HEAD'])(
    '.dockerignore keeps the local build output %s out of the context',
    (file) => {
      expect(ignored(file)).toBe(true);
    },
  );

  it.each([
    ['the launcher', 'bin/dnsgate.js'],
    ['the compiled CLI the launcher imports', 'dist/cli/index.js'],
    ['"type": "module" for dist/', 'package.json'],
    ['the eBPF object, three levels above dist/datapath/ebpf/', OBJECT_FILE],
    ['the libbpf-ts addon, at ../build/Release from its dist/', 'packages/libbpf-ts/build/Release/bpf_ts.node'],
    ['libbpf-ts package.json (exports, type module)', 'packages/libbpf-ts/package.json'],
    ['the compiled libbpf-ts wrapper', 'packages/libbpf-ts/dist/index.js'],
    ['dependencies (libbpf-ts is a workspace symlink into packages/)', 'node_modules/yaml/package.json'],
    ...CRD_FILES.map((f) => [`the CRD schema src/api reads at run time (${f})`, `manifests/${f}`] as [string, string]),
  ])('the runtime stage has %s', (_what, path) => {
    expect(inRuntime(path), path).toBe(true);
  });

  it('the runtime stage copies only from the build stage', () => {
    expect(copies(runtime).every((c) => c.from === build.name)).toBe(true);
  });

  it('runs the launcher, so the DaemonSet args start with the subcommand', () => {
    const entry = runtime.instructions.find((i) => i.op === 'ENTRYPOINT')!;
    expect(JSON.parse(entry.args)).toEqual(['node', join(workdir(runtime), 'bin/dnsgate.js')]);
    const ds = findObject('DaemonSet', 'dnsgate');
    const agent = (at(ds, 'spec.template.spec.containers') as Obj[]).find((c) => c.name === 'agent')!;
    expect(agent.command).toBeUndefined();
    expect((agent.args as string[])[0]).toBe('agent');
  });

  it('the DaemonSet image is the one the kustomization names', () => {
    const ds = findObject('DaemonSet', 'dnsgate');
    const images = [...(at(ds, 'spec.template.spec.containers') as Obj[]), ...(at(ds, 'spec.template.spec.initContainers') as Obj[])].map((c) => String(c.image));
    const [k] = readDocs(join(MANIFESTS_ROOT, 'deploy', 'kustomization.yaml'));
    const entry = ((k!.value as Obj).images as Obj[])[0]!;
    for (const image of images) expect(image).toBe(`${String(entry.newName)}:${String(entry.newTag)}`);
  });
});
