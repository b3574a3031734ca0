// A cheap summary of the manifest files under the configured paths (identity, size and mtime of
// every file the loader would read). The periodic poll compares it to decide whether to reload, so
// a missed or coalesced fs.watch event costs at most one poll interval, never a stale state.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

// The loader's rule (src/api/load.ts): inside directories only these extensions are read.
const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

async function describe(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (e) {
    return `missing(${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

async function walk(dir: string, out: string[]): Promise<void> {
  let items;
  try {
    items = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    out.push(`${dir}=unreadable(${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return;
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const it of items) {
    const p = join(dir, it.name);
    if (it.isDirectory()) await walk(p, out);
    else if (it.isFile() && MANIFEST_EXTENSIONS.has(extname(it.name).toLowerCase())) out.push(`${p}=${await describe(p)}`);
  }
}

export async function fingerprint(paths: readonly string[]): Promise<string> {
  const out: string[] = [];
  for (const path of paths) {
    let isDir = false;
    try {
      isDir = (await stat(path)).isDirectory();
    } catch {
      // reported as missing below
    }
    if (isDir) {
      out.push(`${path}/`);
      await walk(path, out);
    } else out.push(`${path}=${await describe(path)}`);
  }
  return out.join('\n');
}
