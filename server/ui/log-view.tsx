/**
 * A run's log lines on its page, one bounded page at a time (`?logs=<from>`), so a run that logged a million
 * lines opens as fast as one that logged ten. Messages are text: hono/jsx escapes them.
 *
 * @example
 * ```ts
 * import { LogView } from "./log-view.tsx";
 *
 * const view = LogView({ runId: 7, from: 0, lines: [], more: false });
 * ```
 */
import type { LogLine } from "../../kernel/mod.ts";

export const LOG_PAGE = 200;

export function LogView(props: { runId: number; from: number; lines: LogLine[]; more: boolean }) {
  const { runId, from, lines, more } = props;
  const page = (at: number) => `/runs/${runId}?logs=${at}#logs`;
  return (
    <section class="logs" id="logs">
      <header>
        <h2>Logs</h2>
        <span class="muted small">
          {lines.length === 0 ? (from === 0 ? "no log lines" : "no more lines") : `lines ${from + 1}–${from + lines.length}`}
        </span>
        <span class="pager">
          {from > 0 ? <a href={page(Math.max(0, from - LOG_PAGE))}>← earlier</a> : null}
          {more ? <a href={page(from + LOG_PAGE)}>later →</a> : null}
        </span>
      </header>
      {lines.length > 0
        ? (
          <div class="logscroll">
            <table class="loglines">
              <tbody>
                {lines.map((l, i) => (
                  <tr key={from + i} class={`level-${l.level}`}>
                    <td class="ts">{l.ts.toISOString().slice(11, 23)}</td>
                    <td class="lcell">{`${l.cell}#${l.tryNumber}`}</td>
                    <td class="level">{l.level}</td>
                    <td class="msg">{l.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
        : null}
    </section>
  );
}
