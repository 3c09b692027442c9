// Fuzzed qrels, TREC runs and eval sets (issue 14, item 3): cells/eval/trec.ts's public functions and
// cells/eval/evalset.ts. A run written by formatRun reads back as the same run; any text is judgments or
// results, or a one-line CellarError naming the file; an eval set's files are checked against each other.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadEvalSet } from "../../cells/eval/evalset.ts";
import { formatRun, parseQrels, parseRun, rankEntries, type Run, strcmp } from "../../cells/eval/trec.ts";
import { expectOneLineError, FUZZ_TIMEOUT, fuzz, valueOrOneLineError, valueOrOneLineErrorAsync } from "./runs.ts";

/** An id as TREC files hold them: a word without C's isspace characters. */
const word = fc.string({ minLength: 1, maxLength: 8, unit: fc.oneof(fc.constantFrom("a", "Z", "0", "7", "-", "_", ".", "#", "é", "\u00a0", "\u{1F600}", "\uE000"), fc.string({ minLength: 1, maxLength: 1, unit: "binary" })) })
  .filter((s) => !/[ \t\n\v\f\r]/.test(s) && /^\S+$/.test(s));
const score = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0.1, 1e-300, 5e-324, 1.7976931348623157e308, 22.447209)).map((x) => (Object.is(x, -0) ? 0 : x));
const runArb = fc.uniqueArray(fc.tuple(word, word, score), { selector: ([q, d]) => `${q}\u0000${d}`, minLength: 1, maxLength: 30 });

function toRun(rows: [string, string, number][]): Run {
  const run: Run = new Map();
  for (const [qid, docid, s] of rows) {
    if (!run.has(qid)) run.set(qid, []);
    run.get(qid)!.push({ docid, score: s });
  }
  return run;
}

const line = fc.oneof(
  fc.array(fc.oneof(word, fc.constantFrom("0", "Q0", "1", "-1", "+2", "1.5", "1e3", "NaN", "Infinity", "0x1A", "-", "", "#")), { maxLength: 7 }).map((fields) => fields.join(" ")),
  fc.constantFrom("", "   ", "# comment", "  # indented", "\t", "\r", "\v\f"),
  fc.string({ maxLength: 30 }),
);
const fileText = fc.tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom("\n", "\r\n", "\n\n")).map(([lines, eol]) => lines.join(eol));

describe("TREC runs", () => {
  it("reads back what formatRun wrote: the same documents and scores for each query, ranked as trec_eval ranks", () => {
    let written = 0;
    fc.assert(
      fc.property(runArb, word, (rows, tag) => {
        const run = toRun(rows);
        const formatted = valueOrOneLineError(() => formatRun(run, tag));
        if (!formatted.ok) return; // only for ids formatRun cannot write so that they read back
        written++;
        const back = parseRun(formatted.value, "out.run");
        expect([...back.keys()]).toEqual([...run.keys()]);
        for (const [qid, entries] of run) expect(back.get(qid)).toEqual(rankEntries(entries));
        // Written again, it is the same text.
        expect(formatRun(back, tag)).toBe(formatted.value);
      }),
      fuzz(),
    );
    expect(written).toBeGreaterThan(500);
  }, FUZZ_TIMEOUT);

  it("regression: a query id starting with # is refused by formatRun, since trec_eval and parseRun read its lines as comments", () => {
    const run: Run = new Map([["#1", [{ docid: "d", score: 1 }]], ["2", [{ docid: "d", score: 1 }]]]);
    expectOneLineError(catching(() => formatRun(run, "tag")), "#1");
  });

  it("ranks by score, then docid descending in code point order: a total order, the same for any input order", () => {
    fc.assert(
      fc.property(runArb, (rows) => {
        const entries = rows.map(([, docid, s]) => ({ docid, score: s }));
        const ranked = rankEntries(entries);
        expect(rankEntries([...entries].reverse())).toEqual(ranked);
        for (let i = 1; i < ranked.length; i++) {
          const [a, b] = [ranked[i - 1], ranked[i]];
          expect(a.score > b.score || (a.score === b.score && strcmp(a.docid, b.docid) >= 0)).toBe(true);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("reads any text as results with finite scores, or refuses it in one line naming the file", () => {
    fc.assert(
      fc.property(fileText, (text) => {
        const read = valueOrOneLineError(() => parseRun(text, "fuzz.run"), "fuzz.run");
        if (!read.ok) return;
        let n = 0;
        for (const [qid, entries] of read.value) {
          expect(qid).toMatch(/^[^ \t\n\v\f\r#][^ \t\n\v\f\r]*$/);
          expect(new Set(entries.map((e) => e.docid)).size).toBe(entries.length);
          for (const e of entries) expect(Number.isFinite(e.score)).toBe(true);
          n += entries.length;
        }
        expect(n).toBeGreaterThan(0);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("qrels", () => {
  it("reads any text as whole-number judgments, or refuses it in one line naming the file", () => {
    fc.assert(
      fc.property(fileText, (text) => {
        const read = valueOrOneLineError(() => parseQrels(text, "fuzz.qrels"), "fuzz.qrels");
        if (!read.ok) return;
        for (const judged of read.value.values()) for (const gain of judged.values()) expect(Number.isInteger(gain)).toBe(true);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("reads back judgments written as `qid 0 docid gain` lines, with any spacing", () => {
    const qrelsArb = fc.uniqueArray(fc.tuple(word.filter((q) => !q.startsWith("#")), word, fc.integer({ min: -5, max: 5 })), { selector: ([q, d]) => `${q}\u0000${d}`, minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(qrelsArb, fc.constantFrom(" ", "\t", "  ", " \t"), fc.constantFrom("\n", "\r\n"), (rows, gap, eol) => {
        const text = rows.map(([q, d, g]) => [q, "0", d, g].join(gap)).join(eol);
        const qrels = parseQrels(text, "q.trec");
        for (const [q, d, g] of rows) expect(qrels.get(q)?.get(d)).toBe(g);
        expect([...qrels.values()].reduce((n, m) => n + m.size, 0)).toBe(rows.length);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("duplicates", () => {
  const separator = fc.constantFrom(" ", "\t", "  ", " \t ");
  const fileWithDuplicate = fc.tuple(
    fc.uniqueArray(fc.tuple(word.filter((q) => !q.startsWith("#")), word), { selector: ([q, d]) => `${q}\u0000${d}`, minLength: 1, maxLength: 12 }),
    fc.nat(),
    fc.nat(),
    separator,
    fc.constantFrom("\n", "\r\n"),
    fc.array(fc.constantFrom("", "# c", "  "), { maxLength: 3 }),
  );

  it("names the line of the first judgment, and of the first result, that a later line repeats", () => {
    fc.assert(
      fc.property(fileWithDuplicate, fc.boolean(), ([pairs, a, b, gap, eol, filler], isRun) => {
        const first = a % pairs.length;
        const [qid, docid] = pairs[first];
        const row = (q: string, d: string, i: number) => (isRun ? [q, "Q0", d, String(i + 1), String(1 / (i + 1)), "t"] : [q, "0", d, "1"]).join(gap);
        const lines = [...filler, ...pairs.map(([q, d], i) => row(q, d, i))];
        const at = filler.length + pairs.length; // the repeat goes after every other line, or before some of them
        const repeatAt = Math.min(at, filler.length + first + 1 + (b % (pairs.length - first)));
        lines.splice(repeatAt, 0, row(qid, docid, 99));
        const err = catching(() => (isRun ? parseRun : parseQrels)(lines.join(eol), "dup"));
        expectOneLineError(err, `dup line ${repeatAt + 1}:`);
        expect((err as Error).message).toContain(`(first on line ${filler.length + first + 1})`);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("eval sets (loadEvalSet)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cellar-fuzz-evalset-"));
  const idValue = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -3, max: 50 }), fc.constantFrom("a\nb", "1\r", " ", "\u2028", null, true, [1], { x: 1 }));
  const record = fc.oneof(
    fc.record({ id: idValue, text: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(" "), fc.integer()) }, { requiredKeys: [] }).map((r) => JSON.stringify(r)),
    fc.string({ maxLength: 15 }),
  );
  let n = 0;

  it("loads any pair of files as matching questions and judgments, or refuses in one line naming a file", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 6 }), fileText, async (queryLines, qrelsText) => {
        const queries = join(dir, `q${++n}.jsonl`);
        const qrels = join(dir, `r${n}.trec`);
        writeFileSync(queries, queryLines.join("\n"));
        writeFileSync(qrels, qrelsText);
        const loaded = await valueOrOneLineErrorAsync(() => loadEvalSet({ queries, qrels }));
        if (!loaded.ok) {
          expect(loaded.error.message.includes(queries) || loaded.error.message.includes(qrels)).toBe(true);
          return;
        }
        const ids = new Set(loaded.value.queries.map((q) => q.id));
        for (const qid of loaded.value.qrels.keys()) expect(ids.has(qid)).toBe(true);
        for (const q of loaded.value.queries) expect(q.text.trim()).toBe(q.text);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("regression: a question id with a line break in it is quoted on one line when it repeats or has no text", async () => {
    const qrels = join(dir, "one.trec");
    writeFileSync(qrels, "a\nb 0 d 1\n");
    for (const lines of [['{"id":"a\\nb","text":"x"}', '{"id":"a\\nb","text":"y"}'], ['{"id":"a\\nb","text":" "}']]) {
      const queries = join(dir, `nl${++n}.jsonl`);
      writeFileSync(queries, lines.join("\n"));
      const err = await loadEvalSet({ queries, qrels }).then(() => undefined, (e: unknown) => e);
      expectOneLineError(err, queries);
      expect((err as Error).message).toContain('"a\\nb"');
    }
  });
});

function catching(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}
