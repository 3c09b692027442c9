/**
 * The "llm" judge: asks an OpenAI-compatible chat-completions endpoint for a
 * strict JSON relevance score, one request per (question, context) pair, at
 * most `concurrency` in flight. A malformed answer gets one repair request;
 * 408, 429, 5xx, network errors and timeouts are retried with backoff
 * (honouring Retry-After); what still fails is that pair's `{ score: null, error }`.
 * Answers that would fail every pair (401, 403, 404) throw at once.
 *
 * Plain fetch on purpose: an SDK's own retries and timeouts would multiply ours.
 *
 * @example
 * ```ts
 * import type { Context } from "../../../kernel/mod.ts";
 * import type { JudgePair } from "../judge.ts";
 * import { createLlmJudge } from "./llm.ts";
 *
 * declare const ctx: Context, pairs: JudgePair[];
 * const judge = createLlmJudge({ baseUrl: "http://127.0.0.1:8080/v1", model: "qwen2.5-7b-instruct" });
 * const verdicts = await judge.judge(pairs, { signal: ctx.signal, cost: ctx.cost.add, warn: ctx.log.warn });
 * ```
 */
import { backoffMs, CellarError, delay, isCellarError, runtime, Semaphore } from "../../../kernel/mod.ts";
import type { Judge, Judgement, JudgePair, JudgeRunOptions } from "../judge.ts";

export interface LlmJudgeOptions {
  /** Default: CELLAR_LLM_BASE_URL, else OPENAI_BASE_URL. E.g. "https://api.openai.com/v1". */
  baseUrl?: string;
  /** Default: CELLAR_LLM_MODEL. */
  model?: string;
  /** Default: CELLAR_LLM_API_KEY, else OPENAI_API_KEY; none sends no Authorization (local servers). */
  apiKey?: string;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Per request, headers and body (default 60 000). */
  timeoutMs?: number;
  /** Tries after the first for 408, 429, 5xx, network errors and timeouts (default 5). */
  maxRetries?: number;
  /** Backoff before retry n is about base × 2^(n−1), jittered (default 500). */
  retryBaseDelayMs?: number;
  /** Cap on any wait, Retry-After included (default 30 000). */
  maxRetryDelayMs?: number;
  /** Longer contexts are cut to this many characters (default 8 000). */
  maxContextChars?: number;
  /**
   * Pairs in a row whose requests failed for good (retries spent on 429, 5xx,
   * timeouts, network errors) before the judge stops with an error: an
   * endpoint that is down would otherwise cost every remaining pair its full
   * retry budget. Default 10.
   */
  maxConsecutiveFailures?: number;
}

type Message = { role: "system" | "user" | "assistant"; content: string };

/** One request's outcome once retries are done with. */
type Answer = { content: string } | { error: string };

const SYSTEM = "You grade retrieval for a question-answering system. Given a question and a retrieved context, " +
  "rate how well the context answers the question, from 0 (unrelated or useless) to 1 (fully answers it). " +
  'Reply with only a JSON object of the form {"score": <number between 0 and 1>} and nothing else.';

const REPAIR = 'That answer was not valid. Reply with only the JSON object {"score": <number between 0 and 1>}: ' +
  "no code fence, no other text.";

const REASONS: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" };

export function createLlmJudge(options: LlmJudgeOptions = {}): Judge {
  const settings = readSettings(options);
  /** Pairs in a row, across batches, whose requests failed for good; a pair that got an answer resets it. */
  const streak = { failuresInARow: 0 };
  const slots = new Semaphore(settings.concurrency);
  return {
    id: `llm:${settings.model}`,
    async judge(pairs: JudgePair[], run: JudgeRunOptions = {}): Promise<Judgement[]> {
      checkPairs(pairs);
      // A fatal answer for one pair aborts the others' requests and sleeps.
      const stop = new AbortController();
      const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal;
      return await Promise.all(pairs.map(async (pair, i) => {
        // The slots are the judge's, not the batch's: ctx.map runs several batches at once.
        await slots.acquire(signal);
        try {
          const result = await judgeOne(settings, streak, pair, signal, run);
          if (result.error) run.warn?.(`llm judge: pair ${i}: ${result.error}`);
          return result;
        } catch (err) {
          stop.abort(err);
          throw err;
        } finally {
          slots.release();
        }
      }));
    },
  };
}

/** The options, with the environment's defaults filled in and checked, and the request's URL and headers. */
interface Settings {
  url: string;
  model: string;
  headers: Record<string, string>;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxContextChars: number;
  maxConsecutiveFailures: number;
}

/** Checked once, when the judge is made: a bad setting fails before any pair is sent. */
function readSettings(options: LlmJudgeOptions): Settings {
  const baseUrl = (options.baseUrl ?? runtime.env("CELLAR_LLM_BASE_URL") ?? runtime.env("OPENAI_BASE_URL"))?.trim();
  const model = (options.model ?? runtime.env("CELLAR_LLM_MODEL"))?.trim();
  const apiKey = options.apiKey ?? runtime.env("CELLAR_LLM_API_KEY") ?? runtime.env("OPENAI_API_KEY");
  if (!baseUrl) {
    throw new CellarError("llm judge: no baseUrl; expected the option or CELLAR_LLM_BASE_URL, e.g. https://api.openai.com/v1");
  }
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new CellarError(`llm judge: baseUrl ${JSON.stringify(baseUrl)} is not an http(s) URL`);
  if (!model) throw new CellarError("llm judge: no model; expected the option or CELLAR_LLM_MODEL, e.g. gpt-4o-mini");
  const concurrency = count("concurrency", options.concurrency ?? 4, 1);
  const timeoutMs = count("timeoutMs", options.timeoutMs ?? 60_000, 1);
  const maxRetries = count("maxRetries", options.maxRetries ?? 5, 0);
  const baseDelayMs = count("retryBaseDelayMs", options.retryBaseDelayMs ?? 500, 0);
  const maxDelayMs = count("maxRetryDelayMs", options.maxRetryDelayMs ?? 30_000, 0);
  const maxContextChars = count("maxContextChars", options.maxContextChars ?? 8_000, 1);
  const maxConsecutiveFailures = count("maxConsecutiveFailures", options.maxConsecutiveFailures ?? 10, 1);
  const url = `${baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return { url, model, headers, concurrency, timeoutMs, maxRetries, baseDelayMs, maxDelayMs, maxContextChars, maxConsecutiveFailures };
}

function checkPairs(pairs: JudgePair[]): void {
  pairs.forEach((pair, i) => {
    if (typeof pair?.question !== "string" || typeof pair.context !== "string") {
      throw new CellarError(`llm judge: pair ${i} is not { question: string, context: string }`);
    }
  });
}

/**
 * One pair's score: one request, and one repair request when its answer is
 * malformed. Throws when `streak` reaches the limit of pairs failed in a row.
 */
async function judgeOne(
  settings: Settings,
  streak: { failuresInARow: number },
  pair: JudgePair,
  signal: AbortSignal,
  run: JudgeRunOptions,
): Promise<Judgement> {
  const { maxContextChars } = settings;
  const context = pair.context.length > maxContextChars ? `${pair.context.slice(0, maxContextChars)} […]` : pair.context;
  const messages: Message[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: `<question>\n${pair.question}\n</question>\n\n<context>\n${context}\n</context>` },
  ];
  const first = await complete(settings, messages, signal, run);
  if ("error" in first) {
    if (++streak.failuresInARow >= settings.maxConsecutiveFailures) {
      throw new CellarError(`llm judge: ${streak.failuresInARow} pairs in a row failed at ${settings.url}; stopping (last: ${first.error})`);
    }
    return { score: null, error: first.error };
  }
  streak.failuresInARow = 0;
  const score = parseScore(first.content);
  if (score !== undefined) return { score };
  const repair: Message[] = [...messages, { role: "assistant", content: first.content }, { role: "user", content: REPAIR }];
  const repaired = await complete(settings, repair, signal, run);
  if ("error" in repaired) return { score: null, error: `${repaired.error} (repairing a malformed answer)` };
  const again = parseScore(repaired.content);
  if (again !== undefined) return { score: again };
  return { score: null, error: `llm answered non-JSON twice: ${JSON.stringify(first.content.slice(0, 80))}` };
}

/** One request, retried while retrying may help; throws only what must stop the whole batch. */
async function complete(settings: Settings, messages: Message[], signal: AbortSignal, run: JudgeRunOptions): Promise<Answer> {
  const { url, model, headers, timeoutMs, maxRetries, baseDelayMs, maxDelayMs } = settings;
  const body = JSON.stringify({ model, messages, temperature: 0, response_format: { type: "json_object" } });
  for (let tries = 1; ; tries++) {
    const timeout = AbortSignal.timeout(timeoutMs);
    let status = 0;
    let text = "";
    let retryAfter: string | null = null;
    run.cost?.("llm_requests", 1);
    try {
      const response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.any([signal, timeout]) });
      status = response.status;
      retryAfter = response.headers.get("retry-after");
      text = await response.text();
      // HTTP/2 has no reason phrase: the fatal statuses get theirs back for the message.
      const reason = `${status} ${response.statusText || REASONS[status] || ""}`.trim();
      if (status === 401 || status === 403) {
        throw new CellarError(`llm judge: ${reason} from ${url}: check CELLAR_LLM_API_KEY`);
      }
      if (status === 404) {
        throw new CellarError(`llm judge: ${reason} from ${url}: ${serverMessage(text)}; ` +
          `check the model ${JSON.stringify(model)} (CELLAR_LLM_MODEL) and CELLAR_LLM_BASE_URL`);
      }
      if (status >= 200 && status < 300) return parseCompletion(text, run);
      if (status !== 408 && status !== 429 && status < 500) return { error: `${reason}: ${serverMessage(text)}` };
    } catch (err) {
      signal.throwIfAborted();
      if (isCellarError(err)) throw err;
      status = 0;
      text = timeout.aborted ? `timeout: no answer within ${timeoutMs} ms` : `network error: ${causes(err)}`;
    }
    const why = status === 0 ? text : `${status}`;
    if (tries > maxRetries) {
      return { error: `llm request failed: ${why} after ${tries} tries${status === 0 ? "" : `: ${serverMessage(text)}`}` };
    }
    const backoff = backoffMs(tries, { baseMs: baseDelayMs, maxMs: maxDelayMs });
    await delay(Math.min(maxDelayMs, retryAfterMs(retryAfter) ?? backoff), signal);
  }
}

/** The score when `content` is exactly a JSON object with a `score` in [0, 1] (whitespace aside), else undefined. */
export function parseScore(content: string): number | undefined {
  const text = content.trim();
  if (!text.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const score = typeof value === "object" && value !== null ? (value as { score?: unknown }).score : undefined;
  return typeof score === "number" && score >= 0 && score <= 1 ? score : undefined;
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The answer's content, with its token usage reported; a body that is no chat completion is the pair's failure. */
function parseCompletion(text: string, run: JudgeRunOptions): Answer {
  let body: { choices?: Array<{ message?: { content?: unknown } }>; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    return { error: `llm answer is not a chat completion: ${JSON.stringify(text.slice(0, 80))}` };
  }
  const usage = body?.usage;
  if (typeof usage?.prompt_tokens === "number") run.cost?.("llm_prompt_tokens", usage.prompt_tokens);
  if (typeof usage?.completion_tokens === "number") run.cost?.("llm_completion_tokens", usage.completion_tokens);
  const message = body?.choices?.[0]?.message;
  if (!message) return { error: `llm answer has no choices[0].message: ${JSON.stringify(text.slice(0, 80))}` };
  // A null content (a refusal, say) is a malformed answer: it goes to repair like any other.
  return { content: typeof message.content === "string" ? message.content : "" };
}

/** OpenAI's `{"error": {"message"}}`, else the start of the body. */
function serverMessage(text: string): string {
  try {
    const message = JSON.parse(text)?.error?.message;
    if (typeof message === "string" && message !== "") return message.split("\n", 1)[0];
  } catch { /* not JSON: the raw text says more than nothing */ }
  return text.trim() === "" ? "(empty body)" : text.trim().replace(/\s+/g, " ").slice(0, 200);
}

/** A fetch error with its causes: undici hides the errno (ECONNREFUSED) in `cause`. */
function causes(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(": ");
}

function count(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new CellarError(`llm judge: ${name} ${value} is not an integer ≥ ${min}`);
  return value;
}
