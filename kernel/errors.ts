/**
 * The brand every Cellar error carries, by `Symbol.for`: the same key in every
 * copy of this module (a pipeline outside the repo can load a second copy of
 * the kernel), so errors are recognised by it, never by `instanceof`.
 */
const ERROR_BRAND = Symbol.for("cellar.error");

/** What the brand says: a Cellar error, or a failed check. */
type ErrorKind = "error" | "check";

export interface CellarErrorOptions {
  /** Whether another try could succeed. Default false: the same input fails the same way. */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * Errors a user can act on. Their message is one line that names the culprit
 * and says what was expected; the CLI prints it without a stack trace.
 *
 * Whether a failed cell is retried is the error's `retryable` data: a
 * CellarError is bad input by default (not retried), and one that wraps a
 * transient failure says `retryable: true`.
 *
 * @example
 * ```ts
 * import { CellarError } from "./errors.ts";
 *
 * throw new CellarError(`param retries: expected a number, got "abc"`);
 * ```
 */
export class CellarError extends Error {
  override name = "CellarError";
  readonly [ERROR_BRAND]: ErrorKind = "error";
  readonly retryable: boolean;

  constructor(message: string, options: CellarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

/** True for a CellarError (or a subclass, CheckFailed too) from any copy of the kernel. */
export function isCellarError(err: unknown): err is CellarError {
  return brandOf(err) !== undefined;
}

/** True for a CheckFailed from any copy of the kernel. */
export function isCheckFailed(err: unknown): err is CheckFailed {
  return brandOf(err) === "check";
}

/**
 * Whether another try of the work that threw `err` could succeed: the error's
 * own `retryable` when it says so (every CellarError does), otherwise true —
 * an unknown error (a network error, a lost device) may be transient.
 */
export function isRetryable(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return true;
  const retryable = (err as { retryable?: unknown }).retryable;
  if (typeof retryable === "boolean") return retryable;
  return !isCellarError(err);
}

function brandOf(err: unknown): ErrorKind | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const kind = (err as Record<symbol, unknown>)[ERROR_BRAND];
  return kind === "error" || kind === "check" ? kind : undefined;
}

/** The first line of any thrown value, for one-line reports. */
export function errorLine(err: unknown): string {
  if (err instanceof Error || isCellarError(err)) {
    const error = err as Error;
    const line = String(error.message).split("\n", 1)[0];
    // Stored with the attempt, the prefix is how a failed check stays told apart from an error.
    if (isCheckFailed(err)) return `CheckFailed: ${line}`;
    return isCellarError(err) || error.name === "Error" ? line : `${error.name}: ${line}`;
  }
  return `non-Error value thrown: ${safeString(err)}`;
}

/**
 * A value as an error message quotes it: JSON where JSON can say it (a string in quotes, escaped to one
 * line), String() for what JSON.stringify cannot take (a BigInt, a cycle: it would throw a TypeError
 * instead of the error being made) or leaves out (undefined, a function).
 */
export function quoteValue(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // falls through to String()
  }
  return safeString(value).split(/[\r\n]/, 1)[0];
}

function safeString(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export interface CheckFailedOptions extends CellarErrorOptions {
  /**
   * What the cell measured, which its check refused: a small JSON value (at most 64 KB as JSON,
   * check-details.ts). A failed check leaves no checkpoint, so this is what the store keeps of the try:
   * stored with the failed attempt, read back by the facade's cellResults(), and carried by the cell's
   * failed event — never served from cache or passed to a downstream cell.
   */
  details?: unknown;
}

/**
 * A cell's work completed and its verdict is negative — the eval gate found a
 * regression. The run fails and alerts like any failure, but the cell is not
 * retried (the verdict would not change), and `cellar cell` exits 1 for it
 * where an error exits 2.
 *
 * @example
 * ```ts
 * import { CheckFailed } from "./errors.ts";
 * declare const regressed: string[];
 * declare const metrics: Record<string, number>;
 *
 * if (regressed.length > 0) throw new CheckFailed(`eval regressed on ${regressed.join(", ")}`, { details: { metrics } });
 * ```
 */
export class CheckFailed extends CellarError {
  override name = "CheckFailed";
  override readonly [ERROR_BRAND]: ErrorKind = "check";
  /** What the refused measurement was (CheckFailedOptions.details), or undefined. */
  readonly details: unknown;

  constructor(message: string, options: CheckFailedOptions = {}) {
    super(message, options);
    this.details = options.details;
  }
}
