// A loaded BPF program by fd: info, pinning and BPF_PROG_TEST_RUN.
import { unpin } from './map.js';
import { native } from './native.js';
import type { NativeProgHandle } from './native.js';

export interface ProgramInfo {
  /** Full name when taken from an object; the kernel's (up to 15 bytes) otherwise. */
  name: string;
  id: number;
  /** enum bpf_prog_type; see ProgType. */
  type: number;
  typeName: string;
  /** Hex digest of the instructions, as bpftool shows it. */
  tag: string;
  object?: string;
}

export interface TestRunOptions {
  /** Packet (or other input) handed to the program, e.g. an Ethernet frame for tc programs. */
  data?: Buffer;
  /** Runs the program this many times; durationNs is the mean. Default 1. */
  repeat?: number;
  /** Program context in (for tc: a struct __sk_buff prefix; only settable fields may be non-zero). */
  ctxIn?: Buffer;
  /** Bytes of context to copy back out (0: none). */
  ctxOutSize?: number;
  /** Room for the output packet; default input length + 4096; 0 skips copying it out. */
  dataOutSize?: number;
  flags?: number;
  cpu?: number;
}

export interface TestRunResult {
  /** The program's return value (for tc: TC_ACT_*; see TcAct). */
  retval: number;
  /** The packet after the program ran, unless dataOutSize was 0 or there was no data. */
  dataOut: Buffer | undefined;
  /** Mean run time per repetition, in nanoseconds (kernel-measured). */
  durationNs: number;
  ctxOut?: Buffer;
}

export class BpfProgram {
  readonly info: Readonly<ProgramInfo>;

  /** @internal use BpfObject.program(), openPinnedProgram() or programFromId(). */
  constructor(private readonly handle: NativeProgHandle, fullName?: string) {
    const i = handle.info();
    this.info = Object.freeze({
      name: fullName ?? i.name,
      id: i.id,
      type: i.type,
      typeName: i.typeName,
      tag: i.tag,
      ...(i.object !== undefined ? { object: i.object } : {}),
    });
  }

  get name(): string {
    return this.info.name;
  }

  get fd(): number {
    return this.handle.fd();
  }

  /** Runs the program once (or `repeat` times) on the given input in the kernel (BPF_PROG_TEST_RUN). */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    const r = this.handle.testRun(opts);
    return {
      retval: r.retval | 0,
      dataOut: r.dataOut ?? undefined,
      durationNs: r.durationNs,
      ...(r.ctxOut !== undefined ? { ctxOut: r.ctxOut } : {}),
    };
  }

  pin(path: string): void {
    this.handle.pin(path);
  }

  unpin(path: string): void {
    unpin(path, { program: this.name });
  }

  /** Releases the fd if this handle owns it (pinned/id programs); object programs close with their object. */
  close(): void {
    this.handle.close();
  }
}

export function openPinnedProgram(path: string): BpfProgram {
  return new BpfProgram(new (native().ProgHandle)(path));
}

export function programFromId(id: number): BpfProgram {
  return new BpfProgram(new (native().ProgHandle)(null, id));
}
