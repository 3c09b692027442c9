/**
 * The control plane's routes for remote kernels (workers.ts holds the registry):
 *
 * - `POST /workers` — a worker joins: its name, devices (budget and memory) and the code versions of the
 *   task modules it can run; the bearer is the join token. Answers its credential and NATS access.
 * - `POST /workers/{name}/heartbeat` and `DELETE /workers/{name}` (leave) — the bearer is the worker's
 *   own credential.
 * - `GET /workers` and `POST /workers/{name}/revoke` — an operator's: behind the server's token like every
 *   other route (`cellar workers`, `cellar workers revoke <name>`).
 *
 * The first three are outside the server's token guard (`isWorkerCall`, which app.ts gives the guard):
 * a worker holds the join token or its credential, not the operator's token.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { workerRoutes } from "./worker-routes.ts";
 * import { WorkerRegistry } from "../workers.ts";
 *
 * const api = new OpenAPIHono();
 * workerRoutes(api, new WorkerRegistry()); // GET /workers → { workers: [] }; POST /workers → 409, no NATS
 * ```
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { WorkerState } from "../../kernel/mod.ts";
import { WORKER_NAME, type WorkerRefusal, type WorkerRegistry } from "../workers.ts";
import { ErrorBody } from "./schemas.ts";

const Device = z.object({
  id: z.string().min(1).max(100),
  kind: z.enum(["gpu", "cpu"]),
  description: z.string().max(500).optional(),
  budget: z.number().positive().max(1024),
  memoryBytes: z.number().int().nonnegative(),
}).openapi("WorkerDevice");

export const JoinBodySchema = z.object({
  name: z.string().regex(WORKER_NAME, "expected letters, digits, '.', '_' or '-' (up to 63)"),
  devices: z.array(Device).max(256),
  /** Task module (as the worker names it) → code version (SHA-256 hex). */
  codeVersions: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 in hex")),
  host: z.string().max(255).optional(),
}).openapi("WorkerJoin");

const JoinAnswerSchema = z.object({
  name: z.string(),
  credential: z.string(),
  nats: z.object({
    servers: z.array(z.string()),
    user: z.string().optional(),
    pass: z.string().optional(),
    inboxPrefix: z.string().optional().describe("the inbox prefix its own NATS user may subscribe under, and nothing else: connect with it"),
  }),
  heartbeatMs: z.number().int(),
}).openapi("WorkerJoined");

const HeartbeatBody = z.object({ inFlight: z.number().int().nonnegative().optional() }).openapi("WorkerHeartbeat");

const WORKER_STATES = Object.values(WorkerState) as [WorkerState, ...WorkerState[]];

export const WorkerSchema = z.object({
  name: z.string(),
  host: z.string().nullable(),
  state: z.enum(WORKER_STATES),
  devices: z.array(Device),
  codeVersions: z.record(z.string(), z.string()),
  joinedAt: z.string(),
  lastHeartbeatAt: z.string(),
  inFlight: z.number().int(),
  natsUser: z.string().nullable(),
}).openapi("Worker");

const WorkerList = z.object({ workers: z.array(WorkerSchema) }).openapi("WorkerList");
const Name = z.object({ name: z.string().regex(WORKER_NAME) });

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const refused = (description: string) => json(ErrorBody, description);
const body = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });

/** The worker's own calls, which carry the join token or the worker's credential instead of the server's token. */
export function isWorkerCall(method: string, path: string): boolean {
  if (method === "POST") return path === "/api/v1/workers" || /^\/api\/v1\/workers\/[^/]+\/heartbeat$/.test(path);
  return method === "DELETE" && /^\/api\/v1\/workers\/[^/]+$/.test(path);
}

function bearerOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  return header?.match(/^Bearer\s+(\S+)$/i)?.[1];
}

function refusal(c: Context, err: unknown): Response {
  const status = (err as WorkerRefusal)?.status;
  if (status === 401 || status === 403 || status === 404 || status === 409) return c.json({ error: (err as Error).message }, status);
  throw err;
}

/** Mounts the worker routes on the API. A registry without NATS refuses joins (409) with why. */
export function workerRoutes(api: OpenAPIHono, registry: WorkerRegistry): void {
  workerCalls(api, registry);
  operatorCalls(api, registry);
}

/** A worker joins, with the join token. */
function workerCalls(api: OpenAPIHono, registry: WorkerRegistry): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/workers",
      request: body(JoinBodySchema),
      responses: {
        200: json(JoinAnswerSchema, "Joined: the worker's credential (its bearer from now on) and how to reach NATS"),
        401: refused("Missing or wrong join token"),
        403: refused("The name was revoked"),
        409: refused("The server has no NATS for workers"),
      },
    }),
    async (c) => {
      try {
        await registry.checkJoinToken(bearerOf(c));
        return c.json(JoinAnswerSchema.parse(await registry.join(c.req.valid("json"))), 200);
      } catch (err) {
        return refusal(c, err) as never;
      }
    },
  );
  ownCalls(api, registry);
}

/** The calls a joined worker makes with its credential: heartbeat and leave. */
function ownCalls(api: OpenAPIHono, registry: WorkerRegistry): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/workers/{name}/heartbeat",
      request: { params: Name, ...body(HeartbeatBody) },
      responses: {
        200: json(WorkerSchema, "Alive; the worker as the server sees it"),
        401: refused("Unknown worker or not its credential: join again"),
        403: refused("The worker was revoked"),
      },
    }),
    async (c) => {
      try {
        const view = await registry.heartbeat(c.req.valid("param").name, bearerOf(c), c.req.valid("json"));
        return c.json(WorkerSchema.parse(view), 200);
      } catch (err) {
        return refusal(c, err) as never;
      }
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/workers/{name}",
      request: { params: Name },
      responses: {
        200: json(z.object({ name: z.string(), left: z.literal(true) }), "Deregistered; its NATS user withdrawn"),
        401: refused("Unknown worker or not its credential"),
        403: refused("The worker was revoked"),
      },
    }),
    async (c) => {
      try {
        const { name } = c.req.valid("param");
        await registry.leave(name, bearerOf(c));
        return c.json({ name, left: true as const }, 200);
      } catch (err) {
        return refusal(c, err) as never;
      }
    },
  );
}

function operatorCalls(api: OpenAPIHono, registry: WorkerRegistry): void {
  api.openapi(
    createRoute({ method: "get", path: "/workers", responses: { 200: json(WorkerList, "The remote kernels known: alive, lost or revoked") } }),
    (c) => c.json(WorkerList.parse({ workers: registry.list() }), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/workers/{name}/revoke",
      request: { params: Name },
      responses: {
        200: json(WorkerSchema, "Revoked: its credential refused from now on, its NATS user removed (with --nats-local, its connection closed)"),
        404: refused("No such worker"),
      },
    }),
    async (c) => {
      try {
        return c.json(WorkerSchema.parse(await registry.revoke(c.req.valid("param").name)), 200);
      } catch (err) {
        return refusal(c, err) as never;
      }
    },
  );
}
