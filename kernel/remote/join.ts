/**
 * A remote kernel's side of the control plane: `joinServer` registers a worker with `cellar serve` over
 * HTTP (`POST /api/v1/workers`, the join token as the bearer), giving its name, its devices (budget and
 * memory each) and the code versions of the task modules it can run (code-version.ts); the server answers
 * the worker's own credential — a random token for its later calls — and what it needs to reach NATS.
 * `heartbeat()` tells the server it is alive (`POST /api/v1/workers/{name}/heartbeat`) at the interval the
 * server asked for; `leave()` deregisters (`DELETE /api/v1/workers/{name}`), as on SIGTERM.
 *
 * A refusal throws a `JoinRefused` with the server's one line: status 401 for a wrong join token or an
 * unknown worker (the server restarted and forgot it: join again), 403 for a revoked one (stop).
 * The shapes here (WorkerDevice, JoinAnswer) are the API's, which server/workers.ts implements.
 *
 * @example
 * ```ts
 * import { joinServer } from "./join.ts";
 *
 * const joined = await joinServer({
 *   server: "http://10.0.0.5:7878",
 *   token: "the-join-token",
 *   name: "gpu-box-1",
 *   devices: [{ id: "gpu0", kind: "gpu", budget: 1, memoryBytes: 8 * 2 ** 30 }],
 *   codeVersions: { "file:///srv/cellar/cells/dedup.ts": "9c1e…" },
 * });
 * joined.nats; // → { servers: ["nats://10.0.0.5:4222"], user: "worker-gpu-box-1", pass: "…" }
 * const beat = setInterval(() => void joined.heartbeat().catch(() => clearInterval(beat)), joined.heartbeatMs);
 * await joined.leave();
 * ```
 */
import { CellarError, errorLine } from "../errors.ts";
import type { WorkerState } from "../state.ts";

/** A device a worker offers: a GPU (budget 1.0 = the whole device) or its CPU pool. */
export interface WorkerDevice {
  /** Unique within the worker, e.g. "gpu0", "cpu". */
  id: string;
  kind: "gpu" | "cpu";
  /** The adapter's description, shown on the devices page. */
  description?: string;
  /** The fraction of claims it holds at once (1.0 for a GPU; for the CPU pool, its worker threads). */
  budget: number;
  /** Its memory, in bytes (0 when unknown). */
  memoryBytes: number;
}

/** What a worker sends to join. */
export interface JoinBody {
  /** Its name: letters, digits, '.', '_', '-', up to 63; unique among the server's workers. */
  name: string;
  devices: WorkerDevice[];
  /** Task module (URL, as the worker names it) → its code version. */
  codeVersions: Record<string, string>;
  /** The worker's host name, shown on the devices page. */
  host?: string;
}

/** How a worker reaches NATS: the client URLs and, if the server has one for it, its own user. */
export interface NatsAccess {
  servers: string[];
  user?: string;
  pass?: string;
  /** The inbox prefix its own user may subscribe under (and nothing else): connect with it. */
  inboxPrefix?: string;
}

/** What the server answers a worker that joined. */
export interface JoinAnswer {
  name: string;
  /** Its bearer token for heartbeat and leave. */
  credential: string;
  nats: NatsAccess;
  /** How often to send a heartbeat; the server takes a worker as lost after three missed. */
  heartbeatMs: number;
}

/** A joined worker as the server shows it: its API (`GET /api/v1/workers`), `cellar workers` and the devices page. */
export interface WorkerView {
  name: string;
  host: string | null;
  state: WorkerState;
  devices: WorkerDevice[];
  codeVersions: Record<string, string>;
  joinedAt: string;
  lastHeartbeatAt: string;
  /** Chunks it said it was running at its last heartbeat. */
  inFlight: number;
  /** Its own NATS user, or null when it shares the server's (an external --nats). */
  natsUser: string | null;
}

export interface JoinRequest extends JoinBody {
  /** The `cellar serve` URL, e.g. http://10.0.0.5:7878. */
  server: string;
  /** The join token (the server's --join-token, else its --token); none for a server without either. */
  token?: string;
  signal?: AbortSignal;
}

export interface Joined extends JoinAnswer {
  /** Tells the server the worker is alive; `inFlight`: chunks it is running now. */
  heartbeat(status?: { inFlight?: number }): Promise<void>;
  /** Deregisters: the server forgets it and withdraws its NATS user. */
  leave(): Promise<void>;
}

/** The server refused a worker's call: 401 (wrong token, or unknown: join again) or 403 (revoked). */
export class JoinRefused extends CellarError {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** Registers with the server; resolves to the worker's credential, its NATS access, and heartbeat()/leave(). */
export async function joinServer(request: JoinRequest): Promise<Joined> {
  const { server, token, signal, ...body } = request;
  const base = server.replace(/\/+$/, "");
  const answer = await call<JoinAnswer>(base, "POST", "/api/v1/workers", token, body, signal);
  const path = `/api/v1/workers/${encodeURIComponent(answer.name)}`;
  return {
    ...answer,
    heartbeat: async (status = {}) => void (await call(base, "POST", `${path}/heartbeat`, answer.credential, status, signal)),
    leave: async () => void (await call(base, "DELETE", path, answer.credential, undefined, signal)),
  };
}

async function call<T>(base: string, method: string, path: string, bearer: string | undefined, body: unknown, signal: AbortSignal | undefined): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw new CellarError(`the server at ${base} did not answer ${method} ${path}: ${errorLine((err as Error).cause ?? err)}`);
  }
  const text = await res.text();
  let value: { error?: string } | undefined;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (res.status === 401 || res.status === 403) {
    throw new JoinRefused(value?.error ?? `the server at ${base} refused ${method} ${path} (${res.status})`, res.status);
  }
  if (!res.ok || value === undefined) {
    throw new CellarError(value?.error ?? `the server at ${base} answered ${method} ${path} with ${res.status}${value === undefined ? " and no JSON" : ""}`);
  }
  return value as T;
}
