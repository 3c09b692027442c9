/**
 * Tells someone a run has finally failed: calls the pipeline's hook, or POSTs
 * the failure as JSON to its webhook URL. A broken alert is reported, never
 * allowed to change the run's outcome.
 *
 * @example
 * ```ts
 * import { pipeline } from "./pipeline.ts";
 *
 * pipeline({ id: "ingest", alert: "https://hooks.example/cellar" });
 * ```
 */
import { errorLine } from "./errors.ts";
import type { AlertHook, RunFailure } from "./pipeline.ts";

const WEBHOOK_TIMEOUT_MS = 10_000;

/** Delivers the alert; returns a one-line problem if it could not, else undefined. */
export async function sendAlert(alert: string | AlertHook, failure: RunFailure): Promise<string | undefined> {
  try {
    if (typeof alert === "function") {
      await alert(failure);
      return undefined;
    }
    const response = await fetch(alert, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ event: "run_failed", ...failure }),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok ? undefined : `webhook ${alert} answered HTTP ${response.status}`;
  } catch (err) {
    return typeof alert === "function" ? `alert hook threw: ${errorLine(err)}` : `webhook ${alert}: ${errorLine(err)}`;
  }
}
