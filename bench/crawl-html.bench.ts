// Hostile HTML: adversarial pages of about 1.2 MB each, extracted as the web crawl extracts them, while
// a 1 ms timer watches the event loop. Prints one JSON object per page: MB/s and the longest event-loop
// block (the longest gap between timer ticks), and the time ratio of the page at 2× size against 1×
// (about 2 when extraction is linear). Targets: ≥ 1 MB/s and no block over 250 ms.
//
//   npx tsx bench/crawl-html.bench.ts            node_modules/deno/deno run -A bench/crawl-html.bench.ts
//
// On code without extractHtmlAsync it falls back to the synchronous extractHtml (to measure the old code).
import * as html from "../cells/crawl/html.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { watchLoopBlocks } from "../test/fixtures/loop-blocks.ts";

export const ADVERSARIAL: Record<string, (n: number) => string> = {
  deep_nesting: (n) => "<p>start</p>" + "<div>".repeat(n) + "deep" + "</div>".repeat(n),
  unclosed_spans_mismatched_divs: (n) => "<p>start</p>" + "<span>".repeat(n) + "</div>".repeat(n),
  many_attributes: (n) => "<div " + Array.from({ length: n }, (_, i) => `a${i}="v"`).join(" ") + ">text</div>",
  huge_comment: (n) => "<p>before</p><!--" + "-- <p> x ".repeat(n) + "--><p>after</p>",
  huge_script: (n) => "<p>before</p><script>" + "if(a<b){x='</scr'+'ipt>'}".repeat(n / 2) + "</script><p>after</p>",
  many_links: (n) => "<body>" + Array.from({ length: n }, (_, i) => `<a href="/p/${i}.html">${i}</a>`).join("") + "</body>",
};
/** Sizes giving pages of about 1.2 MB. */
export const SIZES: Record<string, number> = {
  deep_nesting: 100_000, unclosed_spans_mismatched_divs: 100_000, many_attributes: 100_000, huge_comment: 120_000,
  huge_script: 100_000, many_links: 50_000,
};

type Extract = (h: string, url: string) => unknown;
const extract: Extract = (html as { extractHtmlAsync?: Extract }).extractHtmlAsync ?? html.extractHtml;

/** Extracts `page`, returning its wall time and the longest event-loop block meanwhile. */
export async function measure(page: string): Promise<{ ms: number; blockMs: number }> {
  const watch = watchLoopBlocks(1);
  await new Promise((r) => setTimeout(r, 5));
  watch.restart();
  const t0 = performance.now();
  await extract(page, "http://127.0.0.1/adversarial.html");
  const ms = performance.now() - t0;
  return { ms, blockMs: watch.stop() };
}

if (runtime.isMainModule(import.meta.url)) {
  const only = runtime.env("BENCH_PAGES")?.split(",");
  await measure(ADVERSARIAL.many_links(2000)); // warm-up
  for (const [name, make] of Object.entries(ADVERSARIAL)) {
    if (only && !only.includes(name)) continue;
    const page = make(SIZES[name]);
    const one = await measure(page);
    const two = await measure(make(SIZES[name] * 2));
    const mb = new TextEncoder().encode(page).length / 1e6;
    console.log(JSON.stringify({
      page: name, mb: Number(mb.toFixed(2)), ms: Math.round(one.ms), mb_per_s: Number((mb / (one.ms / 1000)).toFixed(2)),
      longest_block_ms: Math.round(one.blockMs), ratio_2x_to_1x: Number((two.ms / one.ms).toFixed(2)),
      longest_block_ms_2x: Math.round(two.blockMs),
    }));
  }
}
