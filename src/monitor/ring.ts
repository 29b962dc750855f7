/** A fixed-size ring: the monitor keeps history per agent without ever growing. */
export class Ring<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  /** Index of the next write. */
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** The newest item. */
  last(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#next - 1 + this.capacity) % this.capacity];
  }

  /** Oldest first. */
  toArray(): T[] {
    const result: T[] = [];
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    for (let i = 0; i < this.#size; i++) result.push(this.#items[(start + i) % this.capacity] as T);
    return result;
  }
}
