/**
 * Errors a user can act on. Their message is one line that names the culprit
 * and says what was expected; the CLI prints it without a stack trace.
 *
 * @example
 * throw new CellarError(`--param retries=abc: expected a number`);
 */
export class CellarError extends Error {
  override name = "CellarError";
}

/** The first line of any thrown value, for one-line reports. */
export function errorLine(err: unknown): string {
  if (err instanceof Error) {
    const line = err.message.split("\n", 1)[0];
    // Stored with the attempt, the prefix is how a failed check stays told apart from an error.
    if (err instanceof CheckFailed) return `CheckFailed: ${line}`;
    return err instanceof CellarError || err.name === "Error" ? line : `${err.name}: ${line}`;
  }
  return `non-Error value thrown: ${safeString(err)}`;
}

function safeString(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A cell's work completed and its verdict is negative — the eval gate found a
 * regression. The run fails and alerts like any failure, but the cell is not
 * retried (the verdict would not change), and `cellar cell` exits 1 for it
 * where an error exits 2.
 *
 * @example
 * if (regressed.length > 0) throw new CheckFailed(`eval regressed on ${regressed.join(", ")}`);
 */
export class CheckFailed extends CellarError {
  override name = "CheckFailed";
}
