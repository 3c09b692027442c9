/**
 * Cell params declared once, as zod schemas: each param's type, default, bounds
 * and meaning in one place, and one error for any bad value —
 * `param batchSize: expected a whole number ≥ 1, got "abc"`.
 *
 * Values come as a pipeline or a trigger wrote them, and `--param` keeps a
 * value a string where the pipeline's default is one (`maxPages: "50"`), so
 * the helpers read numbers and flags from strings too; a missing or null param
 * is its default.
 *
 * @example
 * ```ts
 * import { cellParams, pipeline, wholeNumber } from "./mod.ts";
 *
 * const greetParams = cellParams({ words: wholeNumber(1).default(3).describe("greetings per day") });
 * const hello = pipeline({ id: "hello", params: { ...greetParams.defaults } })
 *   .cell("greet", (ctx) => "hello ".repeat(greetParams.read(ctx.params).words));
 * // --param words=0: the cell fails with `param words: expected a whole number ≥ 1, got 0`
 * ```
 */
import { z } from "zod";
import { CellarError } from "./errors.ts";
import type { ParamValue } from "./pipeline.ts";

export { z };

/** What each helper's schema accepts, in words: the "expected …" of its error. */
const expectations = z.registry<{ expected: string }>();

/** `schema`, whose every failure reads `expected <expected>`. For params no helper below describes. */
export function accepts<T extends z.ZodType>(expected: string, schema: T): T {
  expectations.add(schema, { expected });
  return schema;
}

/** An integer from `min` (to `max`), also written as a string: "16". */
export function wholeNumber(min: number, max?: number) {
  const expected = max === undefined ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
  const int = z.number().int().min(min);
  return accepts(expected, z.preprocess(fromString, max === undefined ? int : int.max(max)));
}

/** A finite number within the bounds given (`above` excludes its bound), also written as a string: "0.8". */
export function numberIn(bounds: { above?: number; min?: number; max?: number } = {}) {
  const { above, min, max } = bounds;
  let n = z.number();
  if (above !== undefined) n = n.gt(above);
  if (min !== undefined) n = n.min(min);
  if (max !== undefined) n = n.max(max);
  const low = above ?? min;
  const expected = low !== undefined && max !== undefined
    ? `a number in ${above !== undefined ? "(" : "["}${low}, ${max}]`
    : low !== undefined ? `a number ${above !== undefined ? ">" : "≥"} ${low}` : max !== undefined ? `a number ≤ ${max}` : "a number";
  return accepts(expected, z.preprocess(fromString, n));
}

/** Any string, the empty one too. */
export function text() {
  return accepts("a string", z.string());
}

/** A string with more than whitespace in it. */
export function nonEmptyText() {
  return accepts("a non-empty string", z.string().refine((s) => s.trim() !== ""));
}

/** One of `values`. */
export function oneOf<const T extends readonly string[]>(values: T) {
  const quoted = values.map((v) => JSON.stringify(v));
  const expected = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
  return accepts(expected, z.enum(values));
}

/** true or false, also written as "true" or "false". */
export function flag() {
  return accepts("true or false", z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean()));
}

/** A declaration: each param's name and schema. */
type Shape = Record<string, z.ZodType>;

/** One param of a declaration, as the README's param tables list it. */
export interface ParamDoc {
  name: string;
  default: ParamValue;
  expected: string;
  meaning: string;
}

/** A cell's params: what a pipeline spreads into its own (`defaults`), and `read`, which checks and types them. */
export interface CellParams<S extends Shape> {
  readonly schema: z.ZodObject<S>;
  readonly defaults: Record<keyof S & string, ParamValue>;
  /** The params typed, defaults filled in; a bad value throws `param <name>: expected …, got <value>`. */
  read(params: Readonly<Record<string, unknown>>): z.output<z.ZodObject<S>>;
  /** Each param's name, default, expectation and meaning (its `.describe()`), in declaration order. */
  docs(): ParamDoc[];
}

/**
 * Declares a cell's params: each a helper's schema with `.default(value)` (or
 * `.prefault(value)` when the value is parsed, as a string for a list) and
 * `.describe(meaning)`, in that order.
 */
export function cellParams<S extends Shape>(shape: S): CellParams<S> {
  const schema = z.object(shape);
  const defaults = Object.fromEntries(Object.entries(shape).map(([name, param]) => [name, defaultOf(name, param)]));
  return {
    schema,
    defaults: defaults as Record<keyof S & string, ParamValue>,
    read(params) {
      const given = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== null && value !== undefined));
      const parsed = schema.safeParse(given);
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      const name = String(issue.path[0]);
      throw paramError(name, expectationOf(shape[name]) ?? issue.message, given[name]);
    },
    docs: () =>
      Object.entries(shape).map(([name, param]) => ({
        name,
        default: defaults[name],
        expected: expectationOf(param) ?? "",
        meaning: param.description ?? "",
      })),
  };
}

/** The one error for a bad param, also for checks a schema cannot make (a bound that depends on the model loaded). */
export function paramError(name: string, expected: string, given: unknown): CellarError {
  return new CellarError(`param ${name}: expected ${expected}, got ${describeValue(given)}`);
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A number written as a string, as a number: "50" from a pipeline whose default is a string. */
function fromString(value: unknown): unknown {
  return typeof value === "string" && value.trim() !== "" ? Number(value) : value;
}

/** The expectation registered on `schema` or on the schema it wraps (a default, a description). */
function expectationOf(schema: z.ZodType | undefined): string | undefined {
  for (let s = schema; s; s = (s.def as { innerType?: z.ZodType }).innerType) {
    const expected = expectations.get(s)?.expected;
    if (expected !== undefined) return expected;
  }
  return undefined;
}

function defaultOf(name: string, param: z.ZodType): ParamValue {
  if (!(param instanceof z.ZodDefault || param instanceof z.ZodPrefault)) {
    throw new CellarError(`param ${name}: declared without a default; a pipeline spreads the defaults into its own params`);
  }
  return param.def.defaultValue as ParamValue;
}
