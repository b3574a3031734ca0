// Unpredictable 16-bit IDs and indexes for RFC 5452: drawn from the CSPRNG in blocks so the query
// path does not pay a syscall per query.
import { randomFillSync } from 'node:crypto';

const BLOCK = 4096;

export class RandomSource {
  private readonly pool = Buffer.alloc(BLOCK);
  private at = BLOCK;

  u16(): number {
    if (this.at + 2 > BLOCK) this.refill();
    const v = (this.pool[this.at]! << 8) | this.pool[this.at + 1]!;
    this.at += 2;
    return v;
  }

  /** Uniform integer in [0, n) for n <= 65536 (rejection sampling, no modulo bias). */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = 65536 - (65536 % n);
    for (;;) {
      const v = this.u16();
      if (v < limit) return v % n;
    }
  }

  private refill(): void {
    randomFillSync(this.pool);
    this.at = 0;
  }
}
