// Deno, like Node, fires a setTimeout longer than 2^31−1 ms after about 1 ms; kernel/timer.ts must not.
import { clearLongTimeout, setLongTimeout } from "../../kernel/timer.ts";

Deno.test("a 30-day timer does not fire within half a second, and clears", async () => {
  let fired = false;
  const timer = setLongTimeout(() => (fired = true), 30 * 86_400_000);
  await new Promise((r) => setTimeout(r, 500));
  clearLongTimeout(timer);
  if (fired) throw new Error("a 30-day timer fired at once");
});

Deno.test("a chained timer fires after the whole delay", async () => {
  const t0 = performance.now();
  const elapsed = await new Promise<number>((resolve) => setLongTimeout(() => resolve(performance.now() - t0), 150, 40));
  if (elapsed < 145) throw new Error(`fired after ${elapsed} ms`);
});
