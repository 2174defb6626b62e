/**
 * Fixed-width records of doubles in one growable Float64Array, with a free
 * list. The graph keeps its per-event numbers here (series heads, node times)
 * rather than in small objects: an object holding doubles costs a pointer
 * chase per field (V8 boxes them), and at 100 k processes every chase is a
 * cache miss. A record is named by the index of its first double.
 */
export class Slab {
  /** the records; replaced when the slab grows, so re-read it after alloc() */
  f: Float64Array;
  /** the same memory as 32-bit integers (index = double index * 2) */
  i32: Int32Array;
  private next = 0;
  private readonly free: number[] = [];

  /** `template`: the value of a fresh record (its length is the record width). */
  constructor(
    private readonly template: Float64Array,
    capacity = 64,
  ) {
    this.f = new Float64Array(capacity * template.length);
    this.i32 = new Int32Array(this.f.buffer);
  }

  get width(): number {
    return this.template.length;
  }

  /** records in use */
  get used(): number {
    return this.next / this.template.length - this.free.length;
  }

  /** A fresh record: the index of its first double. */
  alloc(): number {
    let at = this.free.pop();
    if (at === undefined) {
      at = this.next;
      this.next += this.template.length;
      if (this.next > this.f.length) this.grow();
    }
    this.f.set(this.template, at);
    return at;
  }

  release(at: number): void {
    this.free.push(at);
  }

  /** By half again: the copy is rare, and a doubled slab of a million records would be mostly empty. */
  private grow(): void {
    const w = this.template.length;
    const f = new Float64Array(Math.max(Math.ceil((this.f.length / w) * 1.5) * w, this.next));
    f.set(this.f);
    this.f = f;
    this.i32 = new Int32Array(f.buffer);
  }
}
