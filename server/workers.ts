/**
 * The server's registry of remote kernels (`cellar worker`s): who joined, with which devices and code
 * versions, when each last sent a heartbeat, and each one's credential — a random bearer token issued at
 * join, for its heartbeats and its leave — and NATS user. Revoking a worker withdraws both: its HTTP calls
 * are refused (403) and, with `--nats-local`, its NATS user is removed from nats-server's config and the
 * server reloaded, which closes its connection. With an external `--nats` URL every worker is given that
 * URL's credentials (per-worker NATS users need `--nats-local`, or an account the operator manages), so a
 * revoked worker's NATS connection stays until the operator withdraws it there.
 *
 * A worker is alive from its join and each heartbeat, lost after three heartbeat intervals without one
 * (a heartbeat makes it alive again), revoked for good: a revoked name cannot join again, also after a
 * restart (RevokedNames keeps them in a file beside the store); a machine that should never come back under
 * any name needs a new join token. The rest of the registry is held in memory: after a server restart
 * workers join again (their heartbeat's 401 says so).
 *
 * @example
 * ```ts
 * import { startLocalNats } from "../kernel/mod.ts";
 * import { localNatsControl, WorkerRegistry } from "./workers.ts";
 *
 * const nats = await startLocalNats({ dir: "/tmp/cellar.duckdb.nats" });
 * const workers = new WorkerRegistry({ nats: localNatsControl(nats) });
 * const joined = await workers.join({ name: "gpu1", devices: [], codeVersions: {} });
 * // joined → { name: "gpu1", credential: "…", nats: { servers, user: "worker-gpu1", pass }, heartbeatMs: 5000 }
 * await workers.revoke("gpu1"); // its NATS user removed, nats-server reloaded
 * ```
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { timingSafeEqual } from "hono/utils/buffer";
import { CellarError, type JoinAnswer, type JoinBody, type LocalNats, type NatsAccess, type WorkerView, WorkerState } from "../kernel/mod.ts";

/** How often a worker is asked to send a heartbeat, unless the server is told otherwise. */
export const HEARTBEAT_MS = 5_000;
/** Heartbeats missed in a row before a worker counts as lost. */
export const MISSED_HEARTBEATS = 3;
/** A worker's name: it goes into URLs, NATS user names and log lines as it is. */
export const WORKER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** What the registry needs of NATS: the client URLs workers are told, and a user of their own per worker. */
export interface NatsControl {
  servers: string[];
  /** The NATS user and password the worker `name` connects with. */
  userFor(name: string): Promise<{ user?: string; pass?: string; inboxPrefix?: string }>;
  /** Withdraws the worker's NATS user (and so its connection), if it had one of its own. */
  withdraw(name: string): Promise<void>;
  /** True when each worker has its own NATS user, which revoke removes. */
  perWorker: boolean;
}

/**
 * What a worker's own NATS user may not publish: create, reconfigure or delete the server's streams (the chunk
 * queue, the result and try buckets, the blob store), delete their messages one by one, or snapshot and
 * restore them; and read the chunk queue other than by being delivered from it — get its messages by
 * sequence, make, change or drop a consumer on it, purge it — since a chunk message carries the ticket that
 * proves its result's writer was delivered it (kernel/remote/ticket.ts). It may pull and ack chunks, write
 * its tries and results (first writer wins, checked by the server), make and drop the ephemeral consumers
 * that reading a bucket takes, and purge a bucket by subject, which the object store's delete of a losing
 * copy's blob is. Its subscriptions are held to its own inbox (LocalNats `ownInbox`): it cannot listen to
 * the chunk subjects, or to another worker's deliveries.
 */
export const WORKER_DENIED_SUBJECTS = [
  "$JS.API.STREAM.CREATE.>",
  "$JS.API.STREAM.UPDATE.>",
  "$JS.API.STREAM.DELETE.>",
  "$JS.API.STREAM.MSG.DELETE.>",
  "$JS.API.STREAM.SNAPSHOT.>",
  "$JS.API.STREAM.RESTORE.>",
  "$JS.API.ACCOUNT.PURGE.>",
  "$JS.API.STREAM.MSG.GET.CELLAR_CHUNKS",
  "$JS.API.DIRECT.GET.CELLAR_CHUNKS",
  "$JS.API.DIRECT.GET.CELLAR_CHUNKS.>",
  "$JS.API.STREAM.PURGE.CELLAR_CHUNKS",
  "$JS.API.CONSUMER.CREATE.CELLAR_CHUNKS",
  "$JS.API.CONSUMER.CREATE.CELLAR_CHUNKS.>",
  "$JS.API.CONSUMER.DURABLE.CREATE.CELLAR_CHUNKS.>",
  "$JS.API.CONSUMER.DELETE.CELLAR_CHUNKS.>",
];

/**
 * Per-worker users on our own nats-server (`--nats-local`): `worker-<name>`, added and removed with a reload,
 * each denied WORKER_DENIED_SUBJECTS.
 */
export function localNatsControl(nats: LocalNats): NatsControl {
  const userOf = (name: string) => `worker-${name}`;
  return {
    get servers() {
      return nats.servers;
    },
    perWorker: true,
    userFor: async (name) => await nats.addUser(userOf(name), { deny: WORKER_DENIED_SUBJECTS, ownInbox: true }),
    withdraw: async (name) => void (await nats.removeUser(userOf(name))),
  };
}

/** An external NATS (`--nats nats://user:pass@host:port[,host2:port…]`): every worker gets the URL's credentials. */
export function sharedNatsControl(access: NatsAccess): NatsControl {
  const credentials = { ...(access.user !== undefined ? { user: access.user } : {}), ...(access.pass !== undefined ? { pass: access.pass } : {}) };
  return { servers: access.servers, perWorker: false, userFor: () => Promise.resolve(credentials), withdraw: () => Promise.resolve() };
}

/**
 * `nats://user:pass@host:port` (several servers comma-separated, `tls://` for TLS) split into the client
 * URLs without credentials and the user and password (URL-decoded); bad input throws one line naming it.
 */
export function parseNatsUrl(url: string): NatsAccess {
  const parts = url.split(",").map((s) => s.trim()).filter(Boolean);
  let user: string | undefined;
  let pass: string | undefined;
  const servers = parts.map((part) => {
    let parsed: URL;
    try {
      parsed = new URL(part.includes("://") ? part : `nats://${part}`);
    } catch {
      throw new CellarError(`--nats ${redact(url)}: expected nats://[user:password@]host:port, comma-separated for several servers`);
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(parsed.protocol) || parsed.hostname === "") {
      throw new CellarError(`--nats ${redact(url)}: expected nats://[user:password@]host:port (or tls://), not ${parsed.protocol}//`);
    }
    if (parsed.username) user = decodeURIComponent(parsed.username);
    if (parsed.password) pass = decodeURIComponent(parsed.password);
    return `${parsed.protocol}//${parsed.host}`;
  });
  if (servers.length === 0) throw new CellarError(`--nats: expected nats://[user:password@]host:port, got nothing`);
  return { servers, ...(user !== undefined ? { user } : {}), ...(pass !== undefined ? { pass } : {}) };
}

/** A URL with its password replaced by `***`, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@,]*:)[^@/,]*@/g, "$1***@");
}


interface Entry {
  view: Omit<WorkerView, "state" | "lastHeartbeatAt">;
  credential: string;
  lastHeartbeat: number;
  revoked: boolean;
}

/** A call the registry refuses: the status the API answers and its one line. */
export class WorkerRefusal extends CellarError {
  readonly status: 401 | 403 | 404 | 409;
  constructor(message: string, status: 401 | 403 | 404 | 409) {
    super(message);
    this.status = status;
  }
}

/**
 * A set of worker names kept in a file beside the store, so that it outlives the server process: the names
 * revoked (`<db>.revoked-workers.json`; a revoked worker that still holds the join token cannot join again
 * under its name after a restart; removing a name from it lets that worker back), and the names that ever
 * joined (`<db>.known-workers.json`; results they signed before a restart still count, while a name that
 * never joined is refused). Written through a temporary file and a rename.
 */
export class WorkerNames {
  readonly #path: string | undefined;
  readonly #names: Set<string>;

  private constructor(path: string | undefined, names: string[]) {
    this.#path = path;
    this.#names = new Set(names);
  }

  /** The names in `path` (none when it does not exist); without a path, kept in memory only. */
  static async load(path?: string): Promise<WorkerNames> {
    if (!path) return new WorkerNames(undefined, []);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      return new WorkerNames(path, []);
    }
    let names: unknown;
    try {
      names = JSON.parse(text);
    } catch {
      throw new CellarError(`${path}: not JSON; expected the list of worker names this server wrote`);
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
      throw new CellarError(`${path}: expected a JSON list of worker names`);
    }
    return new WorkerNames(path, names);
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  async add(name: string): Promise<void> {
    if (this.#names.has(name)) return;
    this.#names.add(name);
    if (!this.#path) return;
    const temporary = `${this.#path}.tmp`;
    await writeFile(temporary, `${JSON.stringify([...this.#names].sort(), null, 2)}\n`);
    await rename(temporary, this.#path);
  }
}

/** The revoked names' file (`<db>.revoked-workers.json`): a {@link WorkerNames}. */
export const RevokedNames = WorkerNames;
export type RevokedNames = WorkerNames;

/** The live updates' event of a worker: it joined or came back (alive), was lost, was revoked, or left (null). */
export interface WorkerChanged {
  type: "worker";
  name: string;
  state: WorkerState | null;
}

export interface WorkerRegistryOptions {
  /** The names revoked so far, by this process or an earlier one; default: none, kept in memory. */
  revoked?: WorkerNames;
  /** The names that ever joined, in this process or an earlier one; default: this process's, in memory. */
  known?: WorkerNames;
  /** Without it, workers cannot join: the server has no NATS to give them. */
  nats?: NatsControl;
  /** The bearer token a join must carry (the server's --join-token, else its --token); none: joins need none. */
  joinToken?: string;
  heartbeatMs?: number;
  now?: () => number;
}

export class WorkerRegistry {
  readonly heartbeatMs: number;
  readonly #nats: NatsControl | undefined;
  readonly #joinToken: string | undefined;
  readonly #now: () => number;
  readonly #workers = new Map<string, Entry>();
  readonly #revoked: WorkerNames | undefined;
  readonly #known: WorkerNames | undefined;
  /** The names that joined in this process, also those that left since. */
  readonly #joined = new Set<string>();
  readonly #listeners = new Set<(event: WorkerChanged) => void>();
  /** Each worker's state as last told to the listeners. */
  readonly #told = new Map<string, WorkerState>();
  /** Looks for workers gone lost, twice per heartbeat interval, while any is alive. */
  #watch: ReturnType<typeof setInterval> | undefined;

  constructor(options: WorkerRegistryOptions = {}) {
    this.#nats = options.nats;
    this.#joinToken = options.joinToken;
    this.#revoked = options.revoked;
    this.#known = options.known;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Whether a NATS is there for workers (else join is refused). */
  get hasNats(): boolean {
    return this.#nats !== undefined;
  }

  /** Refuses (401) a join whose bearer token is not the join token. */
  async checkJoinToken(given: string | undefined): Promise<void> {
    if (this.#joinToken === undefined) return;
    if (given === undefined || !(await timingSafeEqual(this.#joinToken, given))) {
      throw new WorkerRefusal("missing or wrong join token (the server's --join-token, else its --token)", 401);
    }
  }

  /**
   * Registers a worker (the route checked its join token first). A name that is already joined is taken
   * over by the new join — a worker restarted after a crash comes back under its name — and the old
   * process's credential and NATS password stop working. A revoked name is refused.
   */
  async join(body: JoinBody): Promise<JoinAnswer> {
    if (!this.#nats) {
      throw new WorkerRefusal("this server has no NATS for workers; start it with --nats <url> (or CELLAR_NATS) or --nats-local", 409);
    }
    if (!WORKER_NAME.test(body.name)) {
      throw new WorkerRefusal(`worker name ${JSON.stringify(body.name)}: expected letters, digits, '.', '_' or '-' (up to 63)`, 409);
    }
    if (this.isRevoked(body.name)) throw new WorkerRefusal(`worker ${body.name} was revoked; it cannot join again under that name`, 403);
    const credential = secret();
    const natsUser = await this.#nats.userFor(body.name);
    this.#joined.add(body.name);
    await this.#known?.add(body.name);
    const now = this.#now();
    this.#workers.set(body.name, {
      view: {
        name: body.name,
        host: body.host ?? null,
        devices: body.devices,
        codeVersions: body.codeVersions,
        joinedAt: new Date(now).toISOString(),
        inFlight: 0,
        natsUser: this.#nats.perWorker ? natsUser.user ?? null : null,
      },
      credential,
      lastHeartbeat: now,
      revoked: false,
    });
    this.#tell(body.name, WorkerState.Alive);
    return { name: body.name, credential, nats: { servers: this.#nats.servers, ...natsUser }, heartbeatMs: this.heartbeatMs };
  }

  /** The worker `name` if `credential` is its own; refuses an unknown one or a wrong credential (401), a revoked one (403). */
  async authenticate(name: string, credential: string | undefined): Promise<Entry> {
    const entry = this.#workers.get(name);
    const matches = entry !== undefined && credential !== undefined && await timingSafeEqual(entry.credential, credential);
    if (!entry || !matches) throw new WorkerRefusal(`worker ${name}: unknown here or not its credential; join again (cellar worker)`, 401);
    if (entry.revoked) throw new WorkerRefusal(`worker ${name} was revoked`, 403);
    return entry;
  }

  /** Records a heartbeat of an authenticated worker: alive again, if it was lost. */
  async heartbeat(name: string, credential: string | undefined, status: { inFlight?: number } = {}): Promise<WorkerView> {
    const entry = await this.authenticate(name, credential);
    entry.lastHeartbeat = this.#now();
    entry.view.inFlight = status.inFlight ?? 0;
    this.#tell(name, WorkerState.Alive);
    return this.#viewOf(entry);
  }

  /** Deregisters an authenticated worker (SIGTERM, its chunks given back): forgotten, its NATS user withdrawn. */
  async leave(name: string, credential: string | undefined): Promise<void> {
    await this.authenticate(name, credential);
    this.#workers.delete(name);
    this.#tell(name, null);
    await this.#nats?.withdraw(name);
  }

  /** Withdraws a worker's credential and NATS user (closing its connection); 404 for a name never joined. */
  async revoke(name: string): Promise<WorkerView> {
    const entry = this.#workers.get(name);
    if (!entry) throw new WorkerRefusal(`worker ${name}: no such worker`, 404);
    if (!entry.revoked) {
      entry.revoked = true;
      await this.#revoked?.add(name);
      this.#tell(name, WorkerState.Revoked);
      await this.#nats?.withdraw(name);
    }
    return this.#viewOf(entry);
  }

  /** Whether results signed by worker `name` are to be refused: it was revoked (by this process or an earlier one). */
  isRevoked(name: string): boolean {
    return this.#workers.get(name)?.revoked === true || this.#revoked?.has(name) === true;
  }

  /**
   * Whether results signed by worker `name` count (remote placement's acceptWorker): not revoked, and joined
   * at some time — now, earlier in this process, or before a restart (its accepted results are not run again).
   * Under a shared external --nats anyone with its credentials could sign a record with a name never joined.
   */
  accepts(name: string): boolean {
    return !this.isRevoked(name) && (this.#joined.has(name) || this.#known?.has(name) === true);
  }

  /** Whether an alive worker has a GPU: remote placement's gpuWorkers, so that GPU chunks wait for it, not for its idle pull. */
  hasGpu(): boolean {
    for (const entry of this.#workers.values()) {
      if (this.#stateOf(entry) === WorkerState.Alive && entry.view.devices.some((d) => d.kind === "gpu")) return true;
    }
    return false;
  }

  /** Calls `listener` when a worker joins, is lost, comes back, is revoked or leaves; returns an unsubscribe. */
  changed(listener: (event: WorkerChanged) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Stops looking for lost workers (the server is stopping). */
  close(): void {
    clearInterval(this.#watch);
    this.#watch = undefined;
  }

  /** Tells the listeners a worker's state when it differs from what they were last told. */
  #tell(name: string, state: WorkerState | null): void {
    if (state !== null && this.#told.get(name) === state) return;
    if (state === null) this.#told.delete(name);
    else this.#told.set(name, state);
    for (const listener of this.#listeners) listener({ type: "worker", name, state });
    const watching = [...this.#told.values()].includes(WorkerState.Alive);
    if (watching && !this.#watch) {
      // A missed heartbeat is no call: only a look at the clock finds it.
      this.#watch = setInterval(() => {
        for (const entry of this.#workers.values()) this.#tell(entry.view.name, this.#stateOf(entry));
      }, this.heartbeatMs / 2);
    } else if (!watching) this.close();
  }

  /** Every worker known, by name. */
  list(): WorkerView[] {
    return [...this.#workers.values()].map((e) => this.#viewOf(e)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** How many workers are in each state: `cellar_workers{state}`. */
  counts(): Record<WorkerState, number> {
    const counts = Object.fromEntries(Object.values(WorkerState).map((s) => [s, 0])) as Record<WorkerState, number>;
    for (const entry of this.#workers.values()) counts[this.#stateOf(entry)]++;
    return counts;
  }

  #stateOf(entry: Entry): WorkerState {
    if (entry.revoked) return WorkerState.Revoked;
    return this.#now() - entry.lastHeartbeat > MISSED_HEARTBEATS * this.heartbeatMs ? WorkerState.Lost : WorkerState.Alive;
  }

  #viewOf(entry: Entry): WorkerView {
    return { ...entry.view, state: this.#stateOf(entry), lastHeartbeatAt: new Date(entry.lastHeartbeat).toISOString() };
  }
}

/** 32 random bytes as hex. */
function secret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
}
