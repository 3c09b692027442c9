// Fuzzed cell params (issue 14, item 3): every shipped cell's param declaration (cells/*: crawl, dedup, embed,
// eval, retrain), as `--param` and the API's trigger hand them values. Any value of any param is read into
// the declared type, or refused with `param <name>: expected …, got …` on one line.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crawlParams } from "../../cells/crawl.ts";
import { dedupParams } from "../../cells/dedup.ts";
import { embedParams } from "../../cells/embed.ts";
import { evalParams } from "../../cells/eval.ts";
import { corpusParams } from "../../cells/retrain.ts";
import { FUZZ_TIMEOUT, fuzz, valueOrOneLineError } from "./runs.ts";

const declarations = { crawlParams, dedupParams, embedParams, evalParams, corpusParams };
const names = (Object.keys(declarations) as (keyof typeof declarations)[]).flatMap((cell) => Object.keys(declarations[cell].defaults).map((name) => [cell, name] as const));

/** Values as a command line or a JSON body give them: strings of numbers and flags, numbers, lists, junk. */
const value = fc.oneof(
  fc.anything(),
  fc.string({ maxLength: 10 }),
  fc.double(),
  fc.integer({ min: -10, max: 100_000 }),
  fc.integer({ min: -10, max: 100_000 }).map(String),
  fc.constantFrom("true", "false", "auto", "latest", "none", "porter", "use-lite", "transformers", "0", "1", "-1", "0.5", "1e3", "Infinity", "NaN", " ", "", "a,b", "https://example.org/"),
);

describe("every cell's params", () => {
  it("reads its defaults, and reads any value of any param or refuses it in one line naming the param", () => {
    for (const d of Object.values(declarations)) expect(d.read(d.defaults)).toEqual(d.read({}));
    fc.assert(
      fc.property(fc.constantFrom(...names), value, ([cell, name], v) => {
        const declaration = declarations[cell];
        const read = valueOrOneLineError(() => declaration.read({ [name]: v }), `param ${name}: expected `);
        if (!read.ok) return;
        // What was read is what a value of the default's type reads as: reading it again gives it back.
        const again = declaration.read({ [name]: (read.value as Record<string, unknown>)[name] });
        expect(again).toEqual(read.value);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});
