// Retrieval specs (cells/index/retrieval-spec.ts): what `--mode`, `--param retrieval=` and the UI's select parse to,
// the grids the eval cross-validates, and one-line refusals naming the spec.
import { describe, expect, it } from "vitest";
import { DEFAULT_GRID, DEFAULT_RETRIEVAL, formatRetrieval, parseRetrieval, parseRetrievalGrid, withValues } from "../cells/index/retrieval-spec.ts";
import { gridPoints, parseRetrievalList } from "../cells/eval/compare.ts";

describe("parseRetrieval", () => {
  it("parses each mode, filling in the defaults", () => {
    expect(parseRetrieval("dense")).toEqual({ mode: "dense" });
    expect(parseRetrieval("lexical")).toEqual({ mode: "lexical" });
    expect(parseRetrieval("lexical:k1=1.2:b=0.75")).toEqual({ mode: "lexical", k1: 1.2, b: 0.75 });
    expect(parseRetrieval("lexical+rm3:fbTerms=20")).toEqual({ mode: "lexical", rm3: { fbDocs: 10, fbTerms: 20, originalWeight: 0.5 } });
    expect(parseRetrieval("hybrid:rrf")).toEqual({ mode: "hybrid", fusion: "rrf", rrfK: 60 });
    expect(parseRetrieval("hybrid:rrf:rrfK=10")).toEqual({ mode: "hybrid", fusion: "rrf", rrfK: 10 });
    expect(parseRetrieval("hybrid:weighted:alpha=0.3")).toEqual({ mode: "hybrid", fusion: "weighted", alpha: 0.3 });
    expect(parseRetrieval("hybrid+rm3:weighted:alpha=0.2:originalWeight=0.7")).toEqual({
      mode: "hybrid", fusion: "weighted", alpha: 0.2, lexical: { rm3: { fbDocs: 10, fbTerms: 10, originalWeight: 0.7 } },
    });
    expect(parseRetrieval("hybrid").mode).toBe("hybrid");
    expect(() => parseRetrieval(DEFAULT_RETRIEVAL)).not.toThrow();
  });

  it("formats a config back to a canonical spec that parses to the same config", () => {
    for (const spec of ["dense", "lexical:b=0.3", "lexical+rm3", "hybrid", "hybrid:rrf", "hybrid+rm3:weighted:alpha=0.4:k1=1.2:fbDocs=5"]) {
      const config = parseRetrieval(spec);
      expect(parseRetrieval(formatRetrieval(config))).toEqual(config);
    }
    expect(formatRetrieval(parseRetrieval("hybrid+rm3:rrf"))).toBe("hybrid+rm3:rrf:rrfK=60:fbDocs=10:fbTerms=10:originalWeight=0.5");
    expect(withValues(parseRetrieval("hybrid:weighted"), { alpha: 0.9 })).toEqual({ mode: "hybrid", fusion: "weighted", alpha: 0.9 });
  });

  it("refuses bad specs with one line naming the spec and the grammar", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["bm25", /unknown mode "bm25"/],
      ["dense+rm3", /dense has none/],
      ["lexical+prf", /only \+rm3 may follow/],
      ["lexical:alpha=0.3", /alpha does not apply to lexical/],
      ["hybrid:rrf:alpha=0.3", /alpha does not apply to hybrid:rrf/],
      ["hybrid:weighted:alpha=1.5", /alpha=1.5: expected a number in \[0, 1\]/],
      ["lexical+rm3:fbDocs=2.5", /fbDocs=2.5: expected a whole number ≥ 1/],
      ["lexical:k1", /"k1" is not key=value/],
      ["lexical:k1=1:k1=2", /k1 given twice/],
      ["hybrid:weighted:alpha=cv", /alpha given as a grid or cv, which only the eval/],
    ];
    for (const [spec, why] of cases) {
      const error = (() => {
        try {
          parseRetrieval(spec);
        } catch (err) {
          return err as Error;
        }
      })();
      expect(error?.message, spec).toMatch(why);
      expect(error!.message).toContain(`retrieval "${spec}"`);
      expect(error!.message).not.toContain("\n");
    }
  });
});

describe("grids", () => {
  it("expands cv to the default grid and v1|v2 to its values, their product as points", () => {
    expect(parseRetrievalGrid("hybrid:weighted:alpha=cv").grid).toEqual({ alpha: DEFAULT_GRID.alpha });
    const grid = parseRetrievalGrid("hybrid+rm3:weighted:alpha=0.2|0.4:fbTerms=5|10|20");
    expect(grid.grid).toEqual({ alpha: [0.2, 0.4], fbTerms: [5, 10, 20] });
    const points = gridPoints(grid).map((c) => formatRetrieval(c));
    expect(points).toHaveLength(6);
    expect(points).toContain("hybrid+rm3:weighted:alpha=0.4:fbDocs=10:fbTerms=20:originalWeight=0.5");
    expect(gridPoints(parseRetrievalGrid("lexical"))).toEqual([{ mode: "lexical" }]);
  });

  it("reads the eval's list: the first is gated unless one is marked *", () => {
    expect(parseRetrievalList("dense,lexical").primary).toBe(0);
    const list = parseRetrievalList("dense, *hybrid:rrf ,lexical");
    expect(list.primary).toBe(1);
    expect(list.given).toEqual(["dense", "hybrid:rrf", "lexical"]);
    expect(() => parseRetrievalList("*dense,*lexical")).toThrow(/2 specs marked \*/);
    expect(() => parseRetrievalList("dense,,lexical")).toThrow(/an empty spec/);
    expect(() => parseRetrievalList("dense,dense")).toThrow(/dense listed twice/);
    expect(() => parseRetrievalList("dense,bm25")).toThrow(/unknown mode "bm25"/);
  });
});
