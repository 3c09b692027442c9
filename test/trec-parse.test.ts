// The run and qrels parsers' two ways of splitting lines — native indexOf when spaces are the only
// separators, a character scan when tabs, \r, \v or \f occur — read the same files the same way, and
// the in-place score parsing gives Number's value to the bit.
import { describe, expect, it } from "vitest";
import { parseQrels, parseRun } from "../cells/eval/trec.ts";

const RUN = [
  "# a comment",
  "q1 Q0 d1 1 12.5 tag",
  "",
  "q1 Q0 d2 2 -0.25 tag",
  "q2 Q0 d1 1 3 tag",
  "q1 Q0 d3 3 1e-3 tag",
  "   ",
  "q2 Q0 d9 2 0.30000000000000004 tag",
];

describe("parseRun and parseQrels", () => {
  it("read spaced, tabbed, CRLF and oddly spaced files alike", () => {
    const plain = RUN.join("\n");
    const variants = [
      plain,
      `${plain}\n`,
      RUN.map((line) => line.replaceAll(" ", "\t")).join("\n"),
      RUN.join("\r\n"),
      RUN.map((line) => `  ${line.replaceAll(" ", "   ")}  `).join("\n"),
      RUN.map((line) => line.replaceAll(" ", " \v\f ")).join("\n"),
    ];
    const expected = parseRun(plain, "run");
    expect([...expected.keys()]).toEqual(["q1", "q2"]);
    expect(expected.get("q1")).toEqual([{ docid: "d1", score: 12.5 }, { docid: "d2", score: -0.25 }, { docid: "d3", score: 0.001 }]);
    for (const text of variants) expect(parseRun(text, "run")).toEqual(expected);
    const qrels = "q1 0 d1 2\nq1 0 d2 0\n\nq2 0 d1 -1\n";
    for (const text of [qrels, qrels.replaceAll(" ", "\t"), qrels.replaceAll("\n", "\r\n"), qrels.replaceAll(" ", "  ")]) {
      expect(parseQrels(text, "qrels")).toEqual(new Map([["q1", new Map([["d1", 2], ["d2", 0]])], ["q2", new Map([["d1", -1]])]]));
    }
  });

  it("gives every score Number's value, in the fast form and out of it", () => {
    const scores = [
      "0", "-0", "7", "0.1", "-0.1", "123456789012345", "1234567890123456", "12345678901234567890", "0.000000000000001",
      "99999999999999.9", "3.141592653589793", "1.", ".5", "-.5", "+2", "1e3", "1E-7", "0x10", "00012.50", "29.983694369439036",
    ];
    const run = parseRun(scores.map((s, i) => `q Q0 d${i} ${i + 1} ${s} t`).join("\n"), "run");
    const got = run.get("q")!.map((entry) => entry.score);
    got.forEach((score, i) => expect(Object.is(score, Number(scores[i])), scores[i]).toBe(true));
  });

  it("still refuses what it refused, naming the line", () => {
    expect(() => parseRun("q Q0 d 1 2 t extra\n", "run")).toThrow(/^run line 1: expected "qid Q0 docid rank score tag"/);
    expect(() => parseRun("\nq Q0 d 1 NaN t\n", "run")).toThrow(/^run line 2: /);
    expect(() => parseRun("q Q0 d 1 1 t\nq\tQ0\td\t2\t0\tt\n", "run")).toThrow(/^run line 2: document d listed twice for query q \(first on line 1\)/);
    expect(() => parseQrels("q 0 d 1.5\n", "qrels")).toThrow(/^qrels line 1: expected/);
    expect(() => parseQrels("q 0 d 1\nq 0 d 2\n", "qrels")).toThrow(/^qrels line 2: duplicate judgment for query q, document d \(first on line 1\)/);
  });
});
