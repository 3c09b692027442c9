/**
 * What the previous crawl of this pipeline left: per document its validators
 * (ETag, Last-Modified) and content hash, and per page its links, read from
 * the stable views `"<pipeline>"."crawled"` and `"<pipeline>"."crawl_links"`
 * (the latest committed versions). Re-crawls send the validators as
 * conditional requests, follow an unchanged page's stored links, and copy an
 * unchanged page's row instead of refetching it.
 *
 * @example
 * ```ts
 * import type { Context } from "../../kernel/mod.ts";
 * import { Previous } from "./previous.ts";
 *
 * declare const ctx: Context;
 * const previous = await Previous.load(ctx);
 * previous.validators("https://x.org/a"); // { etag: '"abc"', lastModified: "..." } or undefined
 * const rows = await previous.rows(ctx, ["https://x.org/a"]);
 * ```
 */
import type { Context } from "../../kernel/mod.ts";

export interface PreviousDoc {
  etag: string | null;
  lastModified: string | null;
  hash: string;
}

export interface PreviousRow {
  id: string;
  url: string | null;
  title: string | null;
  text: string;
  content_hash: string;
  bytes: number;
}

export class Previous {
  private constructor(
    private readonly view: string | undefined,
    readonly docs: Map<string, PreviousDoc>,
    readonly links: Map<string, string[]>,
  ) {}

  static empty(): Previous {
    return new Previous(undefined, new Map(), new Map());
  }

  static async load(ctx: Context): Promise<Previous> {
    const present = await ctx.sql(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('crawled', 'crawl_links')`,
      [ctx.pipeline],
    );
    const names = new Set(present.map((r) => String(r.table_name)));
    if (!names.has("crawled")) return Previous.empty();
    const view = `${ident(ctx.pipeline)}.${ident("crawled")}`;
    try {
      const docs = new Map<string, PreviousDoc>();
      for (const r of await ctx.sql(`SELECT id, etag, last_modified, content_hash FROM ${view}`)) {
        docs.set(String(r.id), {
          etag: r.etag === null ? null : String(r.etag),
          lastModified: r.last_modified === null ? null : String(r.last_modified),
          hash: String(r.content_hash),
        });
      }
      const links = new Map<string, string[]>();
      if (names.has("crawl_links")) {
        for (const r of await ctx.sql(`SELECT url, links FROM ${ident(ctx.pipeline)}.${ident("crawl_links")}`)) {
          links.set(String(r.url), ((r.links as unknown[] | null) ?? []).map(String));
        }
      }
      return new Previous(view, docs, links);
    } catch (err) {
      // A store written by an older crawler: crawl afresh rather than fail.
      ctx.log.warn(`previous crawl in ${view} could not be read (${err instanceof Error ? err.message.split("\n")[0] : err}); crawling without it`);
      return Previous.empty();
    }
  }

  /**
   * Validators to send for `url`, only when the previous crawl stored both its row and its links:
   * a 304 must leave us able to follow the page's links without its body.
   */
  validators(url: string): { etag?: string; lastModified?: string } | undefined {
    const doc = this.docs.get(url);
    if (!doc || (!doc.etag && !doc.lastModified) || !this.links.has(url)) return undefined;
    return { etag: doc.etag ?? undefined, lastModified: doc.lastModified ?? undefined };
  }

  /** The previous rows of `ids` (those that exist), for copying unchanged documents. */
  async rows(ctx: Context, ids: string[]): Promise<Map<string, PreviousRow>> {
    const out = new Map<string, PreviousRow>();
    if (!this.view || ids.length === 0) return out;
    const list = ids.map((id) => `'${id.replaceAll("'", "''")}'`).join(", ");
    const rows = await ctx.sql(`SELECT id, url, title, text, content_hash, bytes FROM ${this.view} WHERE id IN (${list})`);
    for (const r of rows) {
      out.set(String(r.id), {
        id: String(r.id),
        url: r.url === null ? null : String(r.url),
        title: r.title === null ? null : String(r.title),
        text: String(r.text),
        content_hash: String(r.content_hash),
        bytes: Number(r.bytes),
      });
    }
    return out;
  }
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
