// A BPF object file (ELF): open, configure maps/programs, load, then hand out maps and programs.
import { BpfMap } from './map.js';
import type { MapInfo } from './map.js';
import { withLog } from './log.js';
import { native } from './native.js';
import type { NativeObjectHandle } from './native.js';
import { BpfProgram } from './program.js';

export interface OpenOptions {
  /**
   * Directory on bpffs for maps declared with LIBBPF_PIN_BY_NAME: each is pinned at
   * `<pinRoot>/<map name>` on load, and an existing compatible pin there is reused instead of
   * creating a new map (how a restarted agent keeps its state).
   */
  pinRoot?: string;
  /** Overrides the object name libbpf derives from the file name. */
  objectName?: string;
}

export interface MapDeclaration {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** .data/.rodata/.bss and similar maps libbpf creates for globals. */
  internal: boolean;
  pinPath?: string;
  /** True after load when the map was pinned or reused from a pin. */
  pinned: boolean;
}

export interface ProgramDeclaration {
  name: string;
  section: string;
  type: number;
  autoload: boolean;
}

export class BpfObject {
  private readonly maps = new Map<string, BpfMap>();
  private readonly programs = new Map<string, BpfProgram>();

  private constructor(
    private readonly handle: NativeObjectHandle,
    readonly path: string,
  ) {}

  /** Opens (parses) an object file without loading it, so maps/programs can be configured first. */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const handle = withLog(() => new (native().ObjectHandle)(path, opts));
    return new BpfObject(handle, path);
  }

  /** Opens and loads in one step; closes the object again if loading fails. */
  static load(path: string, opts: OpenOptions = {}): BpfObject {
    const obj = BpfObject.open(path, opts);
    try {
      obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
  }

  get name(): string {
    return this.handle.name();
  }

  get loaded(): boolean {
    return this.handle.isLoaded();
  }

  get closed(): boolean {
    return this.handle.isClosed();
  }

  /** Maps as declared (after load: with their final pin state). */
  mapDeclarations(): MapDeclaration[] {
    return this.handle.maps();
  }

  programDeclarations(): ProgramDeclaration[] {
    return this.handle.programs();
  }

  /** Before load: pin (and reuse) this map at an explicit path; null clears it. */
  setMapPinPath(map: string, path: string | null): this {
    this.handle.setMapPinPath(map, path);
    return this;
  }

  /** Before load: resize a map (capacity is a deployment decision, not a compile-time one). */
  setMapMaxEntries(map: string, maxEntries: number): this {
    this.handle.setMapMaxEntries(map, maxEntries);
    return this;
  }

  /** Before load: initial contents of a global-data map (.data/.rodata), e.g. `<obj>.rodata`. */
  setMapInitialValue(map: string, value: Buffer): this {
    this.handle.setMapInitialValue(map, value);
    return this;
  }

  /** Before load: use an existing map (e.g. one opened from a pin) instead of creating one. */
  reuseMap(map: string, existing: BpfMap | number): this {
    this.handle.reuseMapFd(map, typeof existing === 'number' ? existing : existing.fd);
    return this;
  }

  /** Before load: skip (or include) a program. */
  setProgramAutoload(program: string, autoload: boolean): this {
    this.handle.setProgAutoload(program, autoload);
    return this;
  }

  /** Creates maps (reusing pins), relocates and verifies programs. Failures carry the verifier log. */
  load(): void {
    withLog(() => this.handle.load());
  }

  /** A map of the loaded object, by name (the same BpfMap instance each time). */
  map(name: string): BpfMap {
    let m = this.maps.get(name);
    if (m === undefined) {
      m = new BpfMap(new (native().MapHandle)(this.handle, name));
      this.maps.set(name, m);
    }
    return m;
  }

  /** Infos of every map the loaded object created or reused (internal ones included). */
  mapInfos(): MapInfo[] {
    return this.mapDeclarations().map((d) => this.map(d.name).info);
  }

  /** A program of the loaded object, by its C function name. */
  program(name: string): BpfProgram {
    let p = this.programs.get(name);
    if (p === undefined) {
      p = new BpfProgram(new (native().ProgHandle)(this.handle, name), name);
      this.programs.set(name, p);
    }
    return p;
  }

  /** Removes the pins of maps that have a pin path (auto-pinned or set), or of all maps under `dir`. */
  unpinMaps(dir?: string): void {
    withLog(() => this.handle.unpinMaps(dir ?? null));
  }

  /**
   * Releases the object: programs not attached or pinned and maps not pinned or otherwise held
   * are freed by the kernel. Maps and programs taken from it stop working. Idempotent.
   */
  close(): void {
    this.handle.close();
    this.maps.clear();
    this.programs.clear();
  }
}

export const openObject = BpfObject.open;
export const loadObject = BpfObject.load;
