/** The llm judge against a real OpenAI-compatible HTTP server on 127.0.0.1. */
import { afterEach, describe, expect, it } from "vitest";
import { createLlmJudge, parseScore, retryAfterMs, type LlmJudgeOptions } from "../cells/eval/judges/llm.ts";
import type { JudgePair } from "../cells/eval/judge.ts";
import { CellarError } from "../kernel/errors.ts";
import {
  isRepair, overlapScore, promptParts, startOpenAiServer, type Behaviour, type OpenAiServer,
} from "./fixtures/openai-server.ts";

const servers: OpenAiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(behaviour?: Behaviour): Promise<OpenAiServer> {
  const server = await startOpenAiServer(behaviour);
  servers.push(server);
  return server;
}

function judgeFor(server: OpenAiServer, options: LlmJudgeOptions = {}) {
  return createLlmJudge({ baseUrl: server.url, model: "judge-model", apiKey: "sk-test", retryBaseDelayMs: 5, ...options });
}

const PAIRS: JudgePair[] = [
  { question: "what is the boundary layer transition", context: "The boundary layer transition is what happens when laminar flow turns turbulent." },
  { question: "what is the boundary layer transition", context: "Recipes for sourdough bread." },
  { question: "how does lift depend on wing area", context: "Lift grows with wing area, air density and the square of speed: how lift does depend on it." },
  { question: "how does lift depend on wing area", context: "Wing area is measured in square metres." },
  { question: "heat transfer in hypersonic flow", context: "Unrelated text about gardening." },
  { question: "heat transfer in hypersonic flow", context: "Heat transfer in hypersonic flow is dominated by the shock layer." },
];

const about = (pair: JudgePair) => (r: Parameters<Behaviour>[0]) => promptParts(r).context === pair.context;

describe("llm judge", () => {
  it("scores a batch in order with the server's answers, sending the protocol's request", async () => {
    const server = await serve();
    const judge = judgeFor(server);
    expect(judge.id).toBe("llm:judge-model");
    const verdicts = await judge.judge(PAIRS);
    expect(verdicts.map((v) => v.score)).toEqual(PAIRS.map((p) => overlapScore(p.question, p.context)));
    expect(verdicts[0].score).toBeGreaterThan(verdicts[1].score!);
    expect(verdicts[2].score).toBeGreaterThan(verdicts[3].score!);
    expect(verdicts[5].score).toBeGreaterThan(verdicts[4].score!);
    expect(server.requests).toHaveLength(PAIRS.length);
    const first = server.requests[0];
    expect(first.headers.authorization).toBe("Bearer sk-test");
    expect(first.body).toMatchObject({ model: "judge-model", temperature: 0, response_format: { type: "json_object" } });
    expect(first.body.messages![0].content).toContain('{"score": <number between 0 and 1>}');
  });

  it("cuts long contexts", async () => {
    const server = await serve();
    await judgeFor(server, { maxContextChars: 100 }).judge([{ question: "q", context: "word ".repeat(1000) }]);
    expect(promptParts(server.requests[0]).context.length).toBeLessThan(120);
  });

  it("never has more than `concurrency` requests in flight", async () => {
    const server = await serve(() => ({ content: '{"score": 0.5}', delayMs: 40 }));
    const pairs = Array.from({ length: 12 }, (_, i) => ({ question: `q${i}`, context: `c${i}` }));
    const judge = judgeFor(server, { concurrency: 3 });
    // Several batches at once, as ctx.map hands them over: the limit is the judge's, not a batch's.
    const verdicts = (await Promise.all([judge.judge(pairs.slice(0, 5)), judge.judge(pairs.slice(5))])).flat();
    expect(verdicts.every((v) => v.score === 0.5)).toBe(true);
    expect(verdicts).toHaveLength(12);
    expect(server.maxInFlight).toBe(3);
  });

  it("repairs a malformed answer (a fenced block is not strict JSON), counting the repair's tokens", async () => {
    const server = await serve((r) => about(PAIRS[2])(r) && !isRepair(r) ? { content: '```json\n{"score": 0.9}\n```' } : undefined);
    const costs: Record<string, number> = {};
    const verdicts = await judgeFor(server).judge(PAIRS.slice(0, 3), {
      cost: (resource, n) => (costs[resource] = (costs[resource] ?? 0) + n),
    });
    const repair = server.requests.find(isRepair)!;
    expect(repair.body.messages!.at(-2)).toEqual({ role: "assistant", content: '```json\n{"score": 0.9}\n```' });
    expect(verdicts[2]).toEqual({ score: overlapScore(PAIRS[2].question, PAIRS[2].context) });
    expect(server.requests).toHaveLength(4);
    const sum = (key: "prompt_tokens" | "completion_tokens") => server.requests.reduce((s, r) => s + r.usage![key], 0);
    expect(costs).toEqual({ llm_requests: 4, llm_prompt_tokens: sum("prompt_tokens"), llm_completion_tokens: sum("completion_tokens") });
    expect(repair.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it("gives null and the answer when it is malformed twice; its neighbours are scored", async () => {
    const server = await serve((r) => about(PAIRS[2])(r) ? { content: "Sure! The score is 0.8 because the context is relevant." } : undefined);
    const warnings: string[] = [];
    const verdicts = await judgeFor(server).judge(PAIRS.slice(1, 4), { warn: (m) => warnings.push(m) });
    expect(verdicts[1]).toEqual({ score: null, error: 'llm answered non-JSON twice: "Sure! The score is 0.8 because the context is relevant."' });
    expect(verdicts[0].score).toBe(overlapScore(PAIRS[1].question, PAIRS[1].context));
    expect(verdicts[2].score).toBe(overlapScore(PAIRS[3].question, PAIRS[3].context));
    expect(server.requests.filter(about(PAIRS[2]))).toHaveLength(2);
    expect(warnings).toEqual([`llm judge: pair 1: ${verdicts[1].error}`]);
  });

  it("parses strictly", () => {
    expect(parseScore(' \n{"score": 0.25}\n')).toBe(0.25);
    expect(parseScore('{"score": 1, "reason": "on topic"}')).toBe(1);
    for (const bad of ['```json\n{"score": 0.2}\n```', '{"score": "0.2"}', '{"score": 1.5}', '{"score": -0.1}', "0.4", "[0.4]", '{"score": 0.2} ok', "null", ""]) {
      expect(parseScore(bad), bad).toBeUndefined();
    }
  });

  it("waits as long as Retry-After says after a 429, then succeeds", async () => {
    const server = await serve((_, n) => n === 0 ? { status: 429, headers: { "retry-after": "1" }, body: { error: { message: "slow down" } } } : undefined);
    const [verdict] = await judgeFor(server).judge([PAIRS[0]]);
    expect(verdict.score).toBe(overlapScore(PAIRS[0].question, PAIRS[0].context));
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(950);
  });

  it("caps Retry-After at maxRetryDelayMs and gives up after maxRetries, naming the status", async () => {
    const server = await serve(() => ({ status: 429, headers: { "retry-after": "30" }, body: { error: { message: "rate limit reached" } } }));
    const started = performance.now();
    const [verdict] = await judgeFor(server, { maxRetries: 2, maxRetryDelayMs: 20 }).judge([PAIRS[0]]);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(verdict).toEqual({ score: null, error: "llm request failed: 429 after 3 tries: rate limit reached" });
    expect(server.requests).toHaveLength(3);
    expect(server.requests[2].at - server.requests[1].at).toBeGreaterThanOrEqual(15);
  });

  it("stops with an error when pair after pair fails for good (an endpoint that is down), instead of spending every pair's retries", async () => {
    for (const behaviour of [() => ({ status: 429, headers: { "retry-after": "1" } }), () => ({ hang: true as const })]) {
      const server = await serve(behaviour);
      const pairs = Array.from({ length: 40 }, (_, i) => ({ question: `q${i}`, context: `c${i}` }));
      const judge = judgeFor(server, { concurrency: 2, maxRetries: 1, maxRetryDelayMs: 10, timeoutMs: 100, maxConsecutiveFailures: 4 });
      const err = await judge.judge(pairs).catch((e) => e);
      expect(err).toBeInstanceOf(CellarError);
      expect(err.message).toMatch(/^llm judge: 4 pairs in a row failed at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions; stopping \(last: llm request failed: (429|timeout: no answer within 100 ms) after 2 tries/);
      // 4 failed pairs and the one other in flight, two tries each.
      expect(server.requests.length).toBeLessThanOrEqual(10);
    }
  });

  it("retries 5xx with backoff", async () => {
    const server = await serve((_, n) => n < 2 ? { status: n === 0 ? 500 : 503 } : undefined);
    const [verdict] = await judgeFor(server, { retryBaseDelayMs: 40 }).judge([PAIRS[0]]);
    expect(verdict.score).toBe(overlapScore(PAIRS[0].question, PAIRS[0].context));
    expect(server.requests).toHaveLength(3);
    // Jittered exponential backoff: at least half of 40 ms, then of 80 ms.
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(18);
    expect(server.requests[2].at - server.requests[1].at).toBeGreaterThanOrEqual(38);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-05-01T12:00:00Z");
    expect(retryAfterMs("2", now)).toBe(2000);
    expect(retryAfterMs("0.5", now)).toBe(500);
    expect(retryAfterMs("Fri, 01 May 2026 12:00:03 GMT", now)).toBe(3000);
    expect(retryAfterMs("Fri, 01 May 2026 11:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it("times out a request that never answers, retries it, then fails only that pair", async () => {
    const server = await serve((r) => about(PAIRS[2])(r) ? { hang: true } : undefined);
    const started = performance.now();
    const verdicts = await judgeFor(server, { timeoutMs: 300, maxRetries: 1 }).judge(PAIRS.slice(1, 4));
    const elapsed = performance.now() - started;
    expect(verdicts[1]).toEqual({ score: null, error: "llm request failed: timeout: no answer within 300 ms after 2 tries" });
    expect(verdicts[0].score).not.toBeNull();
    expect(verdicts[2].score).not.toBeNull();
    expect(elapsed).toBeGreaterThanOrEqual(590);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("fails a pair on a network error after retries", async () => {
    const dead = await startOpenAiServer();
    const url = dead.url;
    await dead.close();
    const [verdict] = await createLlmJudge({ baseUrl: url, model: "m", maxRetries: 1, retryBaseDelayMs: 1 }).judge([PAIRS[0]]);
    expect(verdict.score).toBeNull();
    expect(verdict.error).toMatch(/^llm request failed: network error: .*ECONNREFUSED.* after 2 tries$/);
  });

  it("fails only the pair on another 4xx, with the server's message", async () => {
    const server = await serve((r) => about(PAIRS[2])(r)
      ? { status: 400, body: { error: { message: "This model's maximum context length is 8192 tokens", type: "invalid_request_error" } } }
      : undefined);
    const verdicts = await judgeFor(server).judge(PAIRS.slice(1, 4));
    expect(verdicts[1]).toEqual({ score: null, error: "400 Bad Request: This model's maximum context length is 8192 tokens" });
    expect(verdicts[0].score).not.toBeNull();
    expect(server.requests).toHaveLength(3);
  });

  it("throws at once on 401, without trying every pair", async () => {
    const server = await serve(() => ({ status: 401, body: { error: { message: "Incorrect API key provided" } } }));
    const pairs = Array.from({ length: 20 }, (_, i) => ({ question: `q${i}`, context: `c${i}` }));
    const err = await judgeFor(server, { concurrency: 2 }).judge(pairs).catch((e) => e);
    expect(err).toBeInstanceOf(CellarError);
    expect(err.message).toBe(`llm judge: 401 Unauthorized from ${server.url}/chat/completions: check CELLAR_LLM_API_KEY`);
    expect(server.requests.length).toBeLessThanOrEqual(2);
  });

  it("throws at once on 404, naming the model", async () => {
    const server = await serve(() => ({ status: 404, body: { error: { message: "The model `judge-model` does not exist" } } }));
    const err = await judgeFor(server).judge(PAIRS).catch((e) => e);
    expect(err).toBeInstanceOf(CellarError);
    expect(err.message).toMatch(/^llm judge: 404 Not Found from .*: The model `judge-model` does not exist; check the model "judge-model" \(CELLAR_LLM_MODEL\)/);
    expect(server.requests.length).toBeLessThanOrEqual(4);
  });

  it("rejects promptly when the caller aborts, during a request or a retry wait", async () => {
    for (const behaviour of [() => ({ hang: true as const }), () => ({ status: 503, headers: { "retry-after": "30" } })]) {
      const server = await serve(behaviour);
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 150);
      const err = await judgeFor(server).judge(PAIRS, { signal: controller.signal }).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe("AbortError");
      expect(performance.now() - started).toBeLessThan(600);
      expect(server.requests.length).toBeLessThanOrEqual(4);
    }
  });

  it("takes its settings from the environment, and names what is missing", async () => {
    const names = ["CELLAR_LLM_BASE_URL", "CELLAR_LLM_MODEL", "CELLAR_LLM_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    try {
      for (const n of names) delete process.env[n];
      expect(() => createLlmJudge({ model: "m" })).toThrow(/^llm judge: no baseUrl; expected the option or CELLAR_LLM_BASE_URL/);
      expect(() => createLlmJudge({ baseUrl: "http://127.0.0.1:1/v1" })).toThrow(/^llm judge: no model; expected the option or CELLAR_LLM_MODEL/);
      expect(() => createLlmJudge({ baseUrl: "127.0.0.1/v1", model: "m" })).toThrow(CellarError);
      expect(() => createLlmJudge({ baseUrl: "http://x/v1", model: "m", concurrency: 0 })).toThrow("llm judge: concurrency 0 is not an integer ≥ 1");
      const server = await serve();
      process.env.CELLAR_LLM_BASE_URL = `${server.url}/`;
      process.env.CELLAR_LLM_MODEL = "env-model";
      process.env.OPENAI_API_KEY = "sk-openai";
      const judge = createLlmJudge();
      expect(judge.id).toBe("llm:env-model");
      const [verdict] = await judge.judge([PAIRS[0]]);
      expect(verdict.score).toBe(overlapScore(PAIRS[0].question, PAIRS[0].context));
      expect(server.requests[0].headers.authorization).toBe("Bearer sk-openai");
      expect(server.requests[0].body.model).toBe("env-model");
    } finally {
      for (const n of names) saved[n] === undefined ? delete process.env[n] : (process.env[n] = saved[n]);
    }
  });
});
