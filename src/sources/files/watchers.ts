// fs.watch bookkeeping for the file source. Each configured path gets a watch on its parent
// directory (a file replaced by rename-on-save, created or deleted keeps being seen there, where a
// watch on the file itself would follow the old inode) and, while it is a directory, a recursive
// watch on it. Watches that fail or whose directory was replaced are re-created by `ensure()`,
// which the source calls on every poll tick and after every reload.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

interface Entry {
  watcher: FSWatcher;
  /** Inode of the watched directory when the watch was made; a different one means it was replaced. */
  ino: bigint;
}

export class PathWatchers {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly paths: readonly string[],
    private readonly onEvent: () => void,
  ) {}

  async ensure(): Promise<void> {
    for (const path of this.paths) {
      const name = basename(path);
      await this.ensureOne(`parent:${path}`, dirname(path), false, (file) => file === null || file === name);
      let isDir = false;
      try {
        isDir = (await stat(path)).isDirectory();
      } catch {
        // not there (yet): only the parent watch applies
      }
      if (isDir) await this.ensureOne(`tree:${path}`, path, true, () => true);
      else this.drop(`tree:${path}`);
    }
  }

  private async ensureOne(key: string, dir: string, recursive: boolean, relevant: (file: string | null) => boolean): Promise<void> {
    if (this.closed) return;
    let ino: bigint;
    try {
      ino = (await stat(dir, { bigint: true })).ino;
    } catch {
      this.drop(key);
      return;
    }
    const current = this.entries.get(key);
    if (current && current.ino === ino) return;
    this.drop(key);
    if (this.closed) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { recursive, persistent: false }, (_event, file) => {
        if (relevant(file === null ? null : String(file))) this.onEvent();
      });
    } catch {
      // Directory vanished between stat and watch, or out of inotify watches: the poll covers it.
      return;
    }
    watcher.on('error', () => {
      // The watched directory went away (or inotify failed): forget the watch, poll re-creates it.
      if (this.entries.get(key)?.watcher === watcher) this.drop(key);
      this.onEvent();
    });
    this.entries.set(key, { watcher, ino });
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.watcher.close();
  }

  /** Number of live watches (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  close(): void {
    this.closed = true;
    for (const key of [...this.entries.keys()]) this.drop(key);
  }
}
