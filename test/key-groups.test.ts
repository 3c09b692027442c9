// dedup's table of exact-duplicate keys (cells/dedup/key-groups.ts): equal keys share a group, keys that differ
// in any byte do not — also when their first bytes, the table's hash, are equal — across the table's growth.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KeyGroups } from "../cells/dedup/key-groups.ts";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("KeyGroups", () => {
  it("numbers distinct keys in first-seen order and gives a repeated key its group, past several growths", () => {
    const groups = new KeyGroups();
    const keys = Array.from({ length: 5_000 }, (_, i) => sha(`text ${i}`));
    expect(keys.map((key) => groups.groupOf(key))).toEqual(keys.map((_, i) => i));
    expect(groups.size).toBe(5_000);
    expect([...keys].reverse().map((key) => groups.groupOf(key))).toEqual(keys.map((_, i) => keys.length - 1 - i));
    expect(groups.groupOf(keys[0].toUpperCase())).toBe(0);
    expect(groups.size).toBe(5_000);
  });

  it("keeps keys apart that share their hash bytes and differ only in the last one", () => {
    const groups = new KeyGroups();
    const prefix = "ab".repeat(31);
    const keys = Array.from({ length: 256 }, (_, i) => prefix + i.toString(16).padStart(2, "0"));
    keys.forEach((key, i) => expect(groups.groupOf(key)).toBe(i));
    keys.forEach((key, i) => expect(groups.groupOf(key)).toBe(i));
    expect(groups.size).toBe(256);
  });

  it("refuses a key that is not 64 hexadecimal digits, in one line", () => {
    const groups = new KeyGroups();
    expect(() => groups.groupOf("0g".repeat(32))).toThrow(/^dedup: exact-duplicate key "(0g)+": expected 64 hexadecimal digits$/);
    expect(() => groups.groupOf("ab")).toThrow(/expected 64 hexadecimal digits/);
    expect(groups.size).toBe(0);
  });
});
