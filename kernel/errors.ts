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
