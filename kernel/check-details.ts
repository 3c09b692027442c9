/**
 * What the store keeps of a failed check's details (CheckFailed's `details`): their JSON, when they are a
 * JSON value of at most MAX_CHECK_DETAILS_BYTES. Larger (or unencodable) details are refused, not
 * truncated: a cut JSON value would be a different measurement, and a reader could not tell. The try still
 * fails with its CheckFailed message; the refusal is one line naming the cell, for its log.
 *
 * @example
 * ```ts
 * import { encodeCheckDetails } from "./check-details.ts";
 * import { CheckFailed } from "./errors.ts";
 *
 * const encoded = encodeCheckDetails("run_eval_suite", new CheckFailed("regressed", { details: { metrics: { MRR: 0.4 } } }));
 * // → { json: '{"metrics":{"MRR":0.4}}' }
 * ```
 */
import { isCheckFailed } from "./errors.ts";

/** Details over this many bytes of JSON are not stored: they are a summary of a measurement, not its data. */
export const MAX_CHECK_DETAILS_BYTES = 64 * 1024;

/** The details' JSON; or `refusal`, the line saying why they are not kept; or neither when `err` carries none. */
export function encodeCheckDetails(cell: string, err: unknown): { json?: string; refusal?: string } {
  if (!isCheckFailed(err)) return {};
  const details = (err as { details?: unknown }).details;
  if (details === undefined) return {};
  let json: string | undefined;
  try {
    json = JSON.stringify(details);
  } catch (cause) {
    return { refusal: `cell ${cell}: CheckFailed details are not JSON (${(cause as Error).message}); not stored` };
  }
  if (json === undefined) return { refusal: `cell ${cell}: CheckFailed details are not JSON (a ${typeof details}); not stored` };
  const bytes = new TextEncoder().encode(json).length;
  if (bytes > MAX_CHECK_DETAILS_BYTES) {
    return {
      refusal: `cell ${cell}: CheckFailed details are ${bytes} bytes of JSON, over the ${MAX_CHECK_DETAILS_BYTES / 1024} KB limit; not stored (expected a summary of what the check refused)`,
    };
  }
  return { json };
}
