/**
 * The distinct texts of dedup's first pass, by their exact-duplicate key (the
 * SHA-256 hex of the normalized text): a key seen before gets its group back,
 * a new one the next group number. A Map of 64-character strings costs ~150
 * bytes of V8 heap a text, and V8 lets garbage grow to a multiple of what
 * lives, so a corpus's keys weighed several times their size at the peak.
 * Here the keys are 32 bytes each in one growable byte array and the table is
 * open addressing over an Int32Array (the digest's first bytes are its hash):
 * ~40 bytes a distinct text, outside the heap, and exact — two keys are one
 * group only when all 32 bytes are equal.
 *
 * @example
 * ```ts
 * import { KeyGroups } from "./key-groups.ts";
 *
 * const groups = new KeyGroups();
 * groups.groupOf("ab".repeat(32)); // 0
 * groups.groupOf("cd".repeat(32)); // 1
 * groups.groupOf("ab".repeat(32)); // 0
 * groups.size;                     // 2
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";

const KEY_BYTES = 32;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

export class KeyGroups {
  #keys = new Uint8Array(1024 * KEY_BYTES);
  /** Slot → group + 1 (0: empty); a power of two, at most half full. */
  #slots = new Int32Array(2048);
  #size = 0;
  readonly #key = new Uint8Array(KEY_BYTES);

  /** Distinct keys seen. */
  get size(): number {
    return this.#size;
  }

  /** The group of `hex` (64 hexadecimal digits): the one it had, or the next new one. */
  groupOf(hex: string): number {
    const key = this.#parse(hex);
    const mask = this.#slots.length - 1;
    for (let slot = this.#hash(key) & mask;; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot];
      if (entry === 0) return this.#add(key, slot);
      if (this.#equal(entry - 1, key)) return entry - 1;
    }
  }

  #add(key: Uint8Array, slot: number): number {
    const group = this.#size++;
    if (this.#size * KEY_BYTES > this.#keys.length) {
      const bigger = new Uint8Array(this.#keys.length * 2);
      bigger.set(this.#keys);
      this.#keys = bigger;
    }
    this.#keys.set(key, group * KEY_BYTES);
    this.#slots[slot] = group + 1;
    if (2 * this.#size > this.#slots.length) this.#grow();
    return group;
  }

  /** Doubles the table and places every group again. */
  #grow(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let group = 0; group < this.#size; group++) {
      let slot = this.#hash(this.#keys.subarray(group * KEY_BYTES, (group + 1) * KEY_BYTES)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = group + 1;
    }
    this.#slots = slots;
  }

  #hash(key: Uint8Array): number {
    return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  }

  #equal(group: number, key: Uint8Array): boolean {
    const at = group * KEY_BYTES;
    for (let i = 0; i < KEY_BYTES; i++) if (this.#keys[at + i] !== key[i]) return false;
    return true;
  }

  #parse(hex: string): Uint8Array {
    if (typeof hex !== "string" || !HEX_KEY.test(hex)) {
      throw new CellarError(`dedup: exact-duplicate key ${JSON.stringify(String(hex).slice(0, 80))}: expected 64 hexadecimal digits`);
    }
    for (let i = 0; i < KEY_BYTES; i++) this.#key[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return this.#key;
  }
}
