/**
 * What grew in the server's heap between two snapshots of bench/server-load.bench.ts (one before the load,
 * one after the drain and settle, each taken after V8's full collection): live objects grouped by
 * constructor (objects) or by kind (strings, arrays, code, closures by function name), their counts and self
 * sizes, the groups that grew most first. A leak shows as a group that grew with the runs; a heap that was
 * only the backlog's shows none.
 *
 * @example
 * ```ts
 * import { heapGrowth } from "./load-heap.ts";
 *
 * const top = heapGrowth("before.heapsnapshot", "after.heapsnapshot", 10);
 * top[0]; // → { group: "object Foo", count: 1200, mb: 3.1 } (the differences, after minus before)
 * ```
 */
import { readFileSync } from "node:fs";

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  group: string;
  count: number;
  mb: number;
}

/** Live objects of a .heapsnapshot by group: count and self bytes. */
export function heapGroups(file: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(file, "utf8")) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const groups = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt]];
    // Strings and numbers are named by their content: grouped by kind alone.
    const named = type === "object" || type === "closure" || type === "native";
    const group = named ? `${type} ${snap.strings[snap.nodes[i + nameAt]].slice(0, 80)}` : `(${type})`;
    const entry = groups.get(group) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snap.nodes[i + sizeAt];
    groups.set(group, entry);
  }
  return groups;
}

/** The `top` groups whose self size grew most from `before` to `after`, and the totals of both. */
export function heapGrowth(before: string, after: string, top = 12): HeapGroup[] {
  const a = heapGroups(before);
  const b = heapGroups(after);
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 100) / 100;
  const total = (m: typeof a) => [...m.values()].reduce((n, g) => n + g.bytes, 0);
  const diffs = [...b].map(([group, g]) => ({ group, count: g.count - (a.get(group)?.count ?? 0), bytes: g.bytes - (a.get(group)?.bytes ?? 0) }));
  diffs.sort((x, y) => y.bytes - x.bytes);
  return [
    { group: "(total, before)", count: [...a.values()].reduce((n, g) => n + g.count, 0), mb: mb(total(a)) },
    { group: "(total, after)", count: [...b.values()].reduce((n, g) => n + g.count, 0), mb: mb(total(b)) },
    ...diffs.slice(0, top).map((d) => ({ group: d.group, count: d.count, mb: mb(d.bytes) })),
  ];
}
