/**
 * A scheduled pipeline's schedule with its pause state and the button that pauses or unpauses it, on the
 * pipelines page and the notebook. live.js POSTs the button's `data-pause` URL (with the CSRF header) and
 * redraws the page.
 *
 * @example
 * ```ts
 * import { PauseControl } from "./pause-control.tsx";
 *
 * const control = PauseControl({ pipeline: "ingest", pausedAt: undefined, schedule: "@daily" }); // "@daily [Pause]"
 * ```
 */
import { when } from "./format.ts";

export function PauseControl(props: { pipeline: string; pausedAt: Date | undefined; schedule: string }) {
  const paused = props.pausedAt !== undefined;
  return (
    <span class="schedule" data-paused={paused ? "true" : "false"}>
      <span class="mono">{props.schedule}</span>
      {paused ? <span class="badge paused" title={`paused since ${when(props.pausedAt!)}`}>paused</span> : null}
      <button type="button" class="pause" data-pause={`/api/v1/pipelines/${encodeURIComponent(props.pipeline)}/${paused ? "unpause" : "pause"}`}
        title={paused ? "Unpause the schedule: with catchup, the intervals missed meanwhile run" : "Pause the schedule: no scheduled run until unpaused"}>
        {paused ? "Unpause" : "Pause"}
      </button>
    </span>
  );
}
