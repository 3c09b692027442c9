// A small scheduled pipeline that shows the parts of a Cellar pipeline:
// params, the data interval, a table written in bulk, SQL over it, and costs.
//
//   npx deno task run hello --param words=5
import { cellParams, pipeline, text, wholeNumber } from "../kernel/mod.ts";

/** greet's params, declared once: each a type, a default, bounds and a meaning. */
const greetParams = cellParams({
  words: wholeNumber(0).default(3).describe("greetings per day"),
  greeting: text().default("hello").describe("the word each greeting starts with"),
});

export default pipeline({
  id: "hello",
  description: "Greets each day of its data interval and counts the letters",
  schedule: "@daily",
  startDate: "2026-05-01",
  catchup: false,
  defaults: { retries: 2, retryDelay: "10s", retryBackoff: "exponential" },
  params: { ...greetParams.defaults },
})
  .cell("greet", (ctx) => {
    const { words, greeting } = greetParams.read(ctx.params); // --param words=1.5: "param words: expected a whole number ≥ 0, got 1.5"
    const day = ctx.dataInterval.start.toISOString().slice(0, 10);
    return Array.from({ length: words }, (_, i) => `${greeting} #${i + 1} for ${day}`);
  })
  .cell("store", async (ctx, lines: string[]) => {
    const table = await ctx.table("greetings", { line: "VARCHAR", letters: "INTEGER" });
    await table.append(lines.map((line) => ({ line, letters: line.replace(/[^a-z]/gi, "").length })));
    ctx.log.info(`stored ${lines.length} greetings`);
    return { greetings: await table.finish() };
  })
  .cell("count", async (ctx, input) => {
    const [row] = await ctx.sql(`SELECT count(*)::INT AS lines, sum(letters)::INT AS letters FROM ${input.greetings.sql}`);
    ctx.cost.add("rows_scanned", row.lines as number);
    return row;
  });
