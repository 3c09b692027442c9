// Retrieval metrics and TREC file I/O, checked against NIST trec_eval's own output on the
// Cranfield BM25 run, and on small cases worked out by hand.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "../cells/eval/metrics.ts";
import { formatMeasure, formatRun, parseQrels, parseRun, rankEntries, type Run, strcmp } from "../cells/eval/trec.ts";
import { CellarError } from "../kernel/errors.ts";
import { rng } from "./random.ts";

const DATA = join(import.meta.dirname, "../pipelines/data/cranfield");
const read = (name: string) => readFileSync(join(DATA, name), "utf8");

/** trec_eval's measure names → Cellar's. */
const NAMES: Record<string, string> = {
  recall_10: "recall@10",
  recip_rank: "MRR",
  ndcg_cut_10: "nDCG@10",
  map: "MAP",
  P_10: "P@10",
};

describe("evaluate against trec_eval 10.0-rc3 on the Cranfield BM25 run", () => {
  const qrels = parseQrels(read("qrels.trec"), "qrels.trec");
  const run = parseRun(read("bm25.run"), "bm25.run");
  const result = evaluate(qrels, run);
  const expected = read("bm25.trec_eval.txt").trim().split("\n").map((line) => {
    const [measure, qid, value] = line.trim().split(/\s+/);
    return { measure, qid, value };
  });

  it("reads every judgment and every result", () => {
    expect([...qrels.values()].reduce((n, j) => n + j.size, 0)).toBe(1837);
    expect([...run.values()].reduce((n, r) => n + r.length, 0)).toBe(22500);
    expect(result.queries).toBe(225);
    expect(result.missingInQrels).toEqual([]);
    expect(result.missingInRun).toEqual([]);
  });

  it("prints the same 4 decimals as trec_eval for every query and for all", () => {
    expect(expected).toHaveLength(225 * 5 + 5);
    const mismatches: string[] = [];
    for (const { measure, qid, value } of expected) {
      const metrics = qid === "all" ? result.mean : result.perQuery.get(qid);
      const ours = metrics?.[NAMES[measure]];
      if (ours === undefined || formatMeasure(ours) !== value) mismatches.push(`${measure} ${qid}: trec_eval ${value}, Cellar ${ours}`);
    }
    expect(mismatches).toEqual([]);
    expect(formatMeasure(result.mean.MAP)).toBe("0.2533");
  });

  it("differs from toFixed(4) only where a value is an exact tie and C rounds half to even", () => {
    const differ = expected
      .filter(({ measure, qid, value }) => (qid === "all" ? result.mean : result.perQuery.get(qid)!)[NAMES[measure]].toFixed(4) !== value)
      .map(({ measure, qid }) => `${measure} ${qid}`);
    // 1/32 = 0.03125 exactly: trec_eval's printf gives 0.0312, toFixed gives 0.0313.
    expect(differ.sort()).toEqual(["map 205", "recall_10 23", "recip_rank 35"]);
    expect(result.perQuery.get("35")!.MRR).toBe(1 / 32);
  });

  it("keeps per-query results in trec_eval's order (qid by strcmp)", () => {
    expect([...result.perQuery.keys()].slice(0, 4)).toEqual(["1", "10", "100", "101"]);
  });
});

describe("evaluate on hand-computed cases", () => {
  const qrels = (text: string) => parseQrels(text, "qrels");
  const run = (text: string) => parseRun(text, "run");

  it("breaks score ties by docid descending in strcmp order, ignoring the rank column", () => {
    // All tied: trec_eval ranks "d3", "d2", "d10" ("d3" > "d2" > "d10" byte-wise), whatever the ranks say.
    const result = evaluate(qrels("q 0 d10 1\n"), run("q Q0 d10 1 5 t\nq Q0 d2 2 5 t\nq Q0 d3 3 5 t\n"));
    expect(result.perQuery.get("q")!.MRR).toBeCloseTo(1 / 3, 12);
    // "9" sorts after "10" as a string, so it comes first among equal scores.
    const numeric = evaluate(qrels("q 0 10 1\n"), run("q Q0 10 1 0.5 t\nq Q0 9 2 0.5 t\n"));
    expect(numeric.perQuery.get("q")!.MRR).toBe(0.5);
    // A higher score still wins over any docid.
    const byScore = evaluate(qrels("q 0 a 1\n"), run("q Q0 z 1 0.4 t\nq Q0 a 2 0.5 t\n"));
    expect(byScore.perQuery.get("q")!.MRR).toBe(1);
  });

  it("gives 0 everywhere when no relevant document is retrieved", () => {
    const result = evaluate(qrels("q 0 a 2\nq 0 b 0\n"), run("q Q0 x 1 3 t\nq Q0 y 2 2 t\nq Q0 b 3 1 t\n"));
    expect(result.perQuery.get("q")).toEqual({ "P@10": 0, "recall@10": 0, "P@100": 0, "recall@100": 0, MRR: 0, "nDCG@10": 0, MAP: 0 });
  });

  it("counts gain-0 documents as judged but not relevant", () => {
    const m = evaluate(qrels("q 0 a 2\nq 0 b 0\n"), run("q Q0 b 1 2 t\nq Q0 a 2 1 t\n")).perQuery.get("q")!;
    expect(m.MRR).toBe(0.5);
    expect(m["P@10"]).toBeCloseTo(0.1, 12);
    expect(m["recall@10"]).toBe(1);
    expect(m.MAP).toBe(0.5);
    expect(m["nDCG@10"]).toBeCloseTo(1 / Math.log2(3), 12); // (2 / log2 3) / (2 / log2 2)
  });

  it("divides P@K by K when fewer than K documents come back", () => {
    const m = evaluate(qrels("q 0 a 1\nq 0 b 1\nq 0 c 1\nq 0 d 1\n"), run("q Q0 a 1 3 t\nq Q0 x 2 2 t\nq Q0 b 3 1 t\n")).perQuery.get("q")!;
    expect(m["P@10"]).toBeCloseTo(0.2, 12);
    expect(m["P@100"]).toBeCloseTo(0.02, 12);
    expect(m["recall@10"]).toBe(0.5);
    expect(m.MAP).toBeCloseTo((1 + 2 / 3) / 4, 12);
  });

  it("uses linear gains and the ideal ranking from the qrels for nDCG@10", () => {
    // Ranked c(1), a(3), x(unjudged), b(2); the ideal is 3, 2, 1.
    const m = evaluate(qrels("q 0 a 3\nq 0 b 2\nq 0 c 1\nq 0 z 0\n"), run("q Q0 c 1 4 t\nq Q0 a 2 3 t\nq Q0 x 3 2 t\nq Q0 b 4 1 t\n"))
      .perQuery.get("q")!;
    const dcg = 1 + 3 / Math.log2(3) + 2 / Math.log2(5);
    const ideal = 3 + 2 / Math.log2(3) + 1 / 2;
    expect(m["nDCG@10"]).toBeCloseTo(dcg / ideal, 12);
    expect(m.MAP).toBeCloseTo((1 + 1 + 3 / 4) / 3, 12);
    expect(m.MRR).toBe(1);
  });

  it("cuts nDCG at 10 on both the run and the ideal ranking", () => {
    // 12 relevant of gain 1; the run finds them at ranks 11 and 12 only.
    const judged = Array.from({ length: 12 }, (_, i) => `q 0 r${i} 1`).join("\n");
    const results = [...Array.from({ length: 10 }, (_, i) => `q Q0 n${i} ${i + 1} ${100 - i} t`), "q Q0 r0 11 50 t", "q Q0 r1 12 49 t"].join("\n");
    const m = evaluate(qrels(judged), run(results)).perQuery.get("q")!;
    expect(m["nDCG@10"]).toBe(0);
    expect(m.MRR).toBeCloseTo(1 / 11, 12);
    expect(m["recall@100"]).toBeCloseTo(2 / 12, 12);
  });

  it("evaluates only queries in both files and reports the others", () => {
    const result = evaluate(qrels("1 0 a 1\n2 0 a 1\n4 0 a 1\n"), run("1 Q0 a 1 1 t\n2 Q0 b 1 1 t\n3 Q0 a 1 1 t\n"));
    expect(result.queries).toBe(2);
    expect([...result.perQuery.keys()]).toEqual(["1", "2"]);
    expect(result.mean.MRR).toBe(0.5);
    expect(result.missingInQrels).toEqual(["3"]);
    expect(result.missingInRun).toEqual(["4"]);
  });

  it("takes extra cutoffs and always keeps 10", () => {
    const m = evaluate(qrels("q 0 a 1\n"), run("q Q0 x 1 2 t\nq Q0 a 2 1 t\n"), { k: [1, 5] }).perQuery.get("q")!;
    expect(Object.keys(m).sort()).toEqual(["MAP", "MRR", "P@1", "P@10", "P@5", "nDCG@10", "recall@1", "recall@10", "recall@5"]);
    expect(m["P@1"]).toBe(0);
    expect(m["recall@5"]).toBe(1);
    expect(() => evaluate(qrels("q 0 a 1\n"), run("q Q0 a 1 1 t\n"), { k: [0] })).toThrow(/options\.k \[0\]: expected an array of positive whole numbers/);
  });

  it("rejects a run built in code that lists a document twice, or a run sharing no query", () => {
    const twice: Run = new Map([["q", [{ docid: "a", score: 2 }, { docid: "a", score: 1 }]]]);
    expect(() => evaluate(qrels("q 0 a 1\n"), twice)).toThrow(/query q: document a is listed twice/);
    const nan: Run = new Map([["q", [{ docid: "a", score: NaN }]]]);
    expect(() => evaluate(qrels("q 0 a 1\n"), nan)).toThrow(/score NaN: expected a finite number/);
    expect(() => evaluate(qrels("1 0 a 1\n"), run("q1 Q0 a 1 1 t\n"))).toThrow(CellarError);
    expect(() => evaluate(qrels("1 0 a 1\n"), run("q1 Q0 a 1 1 t\n"))).toThrow(/share no query id \(run: "q1"; qrels: "1"\)/);
  });
});

describe("TREC file parsing", () => {
  it("skips blank and # lines, reads CRLF, and keeps negative grades as judged", () => {
    const q = parseQrels("# judgments\n\n1 0 a 2\r\n1 0 b -1\n  \n2 0 a 0", "q.trec");
    expect(q).toEqual(new Map([["1", new Map([["a", 2], ["b", -1]])], ["2", new Map([["a", 0]])]]));
    const r = parseRun("\n1 Q0 a 1 2.5 t\r\n# note\n1\tQ0\tb\t2\t-1e-3\tt\n", "r.run");
    expect(r).toEqual(new Map([["1", [{ docid: "a", score: 2.5 }, { docid: "b", score: -0.001 }]]]));
  });

  it("names the source, the line and the expected format for a malformed line", () => {
    expect(() => parseQrels("1 0 a 1\n\n1 0 b\n", "qrels.trec")).toThrow(
      'qrels.trec line 3: expected "qid 0 docid gain" with a whole-number gain, got "1 0 b"',
    );
    expect(() => parseQrels("1 0 a 1.5\n", "qrels.trec")).toThrow(/^qrels\.trec line 1: .*got "1 0 a 1\.5"$/);
    expect(() => parseRun("1 Q0 a 1 2 t\n1 Q0 b 2 t\n", "bm25.run")).toThrow(
      'bm25.run line 2: expected "qid Q0 docid rank score tag" with a finite score, got "1 Q0 b 2 t"',
    );
    expect(() => parseRun("1 Q0 a 1 high t\n", "bm25.run")).toThrow(/^bm25\.run line 1: expected/);
    expect(() => parseRun("1 Q0 a 1 Infinity t\n", "bm25.run")).toThrow(/^bm25\.run line 1: expected/);
    expect(() => parseRun("1 Q0 a 1 1 t extra\n", "bm25.run")).toThrow(/^bm25\.run line 1: expected/);
  });

  it("rejects empty files", () => {
    expect(() => parseQrels("", "qrels.trec")).toThrow('qrels.trec: no judgments; expected lines "qid 0 docid gain"');
    expect(() => parseQrels("\n# nothing\n", "qrels.trec")).toThrow(CellarError);
    expect(() => parseRun("  \n", "bm25.run")).toThrow(/^bm25\.run: no results/);
  });

  it("rejects a duplicated (qid, docid) pair, naming both lines", () => {
    expect(() => parseQrels("1 0 a 1\n1 0 b 1\n2 0 a 1\n1 0 a 0\n", "qrels.trec")).toThrow(
      "qrels.trec line 4: duplicate judgment for query 1, document a (first on line 1)",
    );
    expect(() => parseRun("1 Q0 a 1 2 t\n2 Q0 a 1 2 t\n1 Q0 a 2 1 t\n", "bm25.run")).toThrow(
      /^bm25\.run line 3: document a listed twice for query 1 \(first on line 1\)/,
    );
  });
});

describe("formatRun", () => {
  it("round-trips through parseRun, in trec_eval order with ranks 1..n", () => {
    const random = rng(7);
    const run: Run = new Map();
    for (const qid of ["3", "1", "20"]) {
      // Scores rounded to one decimal so that ties (broken by docid) are common; some long decimals too.
      run.set(qid, Array.from({ length: 30 }, (_, i) => ({
        docid: `doc-${Math.floor(random() * 1e6)}-${i}`,
        score: i % 3 === 0 ? random() * 100 - 50 : Math.round(random() * 10) / 10,
      })));
    }
    const text = formatRun(run, "cellar");
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(90);
    expect(lines[0]).toMatch(/^3 Q0 \S+ 1 \S+ cellar$/);
    expect(lines.filter((l) => l.startsWith("20 ")).map((l) => Number(l.split(" ")[3]))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    const back = parseRun(text, "formatted.run");
    expect([...back.keys()]).toEqual(["3", "1", "20"]);
    for (const [qid, entries] of run) expect(back.get(qid)).toEqual(rankEntries(entries));
    expect(formatRun(back, "cellar")).toBe(text);
    // The caller's arrays keep their order: formatRun ranks a copy.
    expect(run.get("3")![0].docid).toMatch(/-0$/);
  });

  it("rejects what the format cannot hold", () => {
    const run: Run = new Map([["1", [{ docid: "a", score: 1 }]]]);
    expect(() => formatRun(run, "my run")).toThrow(/run tag "my run": expected a non-empty word/);
    expect(() => formatRun(new Map([["1", [{ docid: "a b", score: 1 }]]]), "t")).toThrow(/document id "a b"/);
    expect(() => formatRun(new Map([["1", [{ docid: "a", score: Infinity }]]]), "t")).toThrow(/expected a finite number/);
  });
});

describe("strcmp and formatMeasure", () => {
  it("orders strings by code point, as strcmp orders UTF-8 bytes", () => {
    expect(strcmp("b", "a")).toBeGreaterThan(0);
    expect(strcmp("10", "9")).toBeLessThan(0);
    expect(strcmp("ab", "a")).toBeGreaterThan(0);
    expect(strcmp("x", "x")).toBe(0);
    // U+FFFF < U+1F600 by code point, though "\uffff" > "😀" by UTF-16 code unit.
    expect("\uffff" > "😀").toBe(true);
    expect(strcmp("\uffff", "😀")).toBeLessThan(0);
    expect(Buffer.compare(Buffer.from("\uffff"), Buffer.from("😀"))).toBeLessThan(0);
  });

  it("prints like C's %.4f, rounding exact ties to even", () => {
    expect(formatMeasure(1 / 32)).toBe("0.0312");
    expect((1 / 32).toFixed(4)).toBe("0.0313");
    expect(formatMeasure(3 / 32)).toBe("0.0938");
    expect(formatMeasure(5 / 32)).toBe("0.1562");
    expect(formatMeasure(0.5)).toBe("0.5000");
    expect(formatMeasure(0.123456)).toBe("0.1235");
    expect(formatMeasure(2 / 3)).toBe("0.6667");
    expect(formatMeasure(0)).toBe("0.0000");
  });
});
