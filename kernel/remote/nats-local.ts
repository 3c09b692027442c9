/**
 * A nats-server of our own for `cellar serve --nats-local` (and the tests): the `nats-server` on PATH
 * (Debian's 2.9.10 is enough), with JetStream on file storage in `dir` (`<db>.nats/` beside the store),
 * password authentication, bound to one address (127.0.0.1 unless told) on a free port, started and
 * waited for until it says it is ready, stopped by stop().
 *
 * Its users live in a config file in `dir` (mode 0600: it holds their passwords): the server's own user,
 * with a password generated at each start, and one user per joined worker (`addUser`). `removeUser`
 * rewrites the file and reloads the running server (SIGHUP, what `nats-server --signal reload` sends),
 * which closes the connections of a user no longer in it: that is how a revoked worker is cut off.
 *
 * The port is chosen by nats-server (`port: -1`) and read from its log, then written into the config, so
 * that a reload keeps it and restart() comes back on it: clients reconnect to the URL they had.
 *
 * @example
 * ```ts
 * import { startLocalNats } from "./nats-local.ts";
 *
 * const nats = await startLocalNats({ dir: ".cellar/cellar.duckdb.nats" });
 * nats.servers; // → ["nats://127.0.0.1:39777"]
 * const worker = await nats.addUser("worker-gpu1"); // → { user: "worker-gpu1", pass: "…" }, the server reloaded
 * await nats.removeUser(worker.user); // its connections are closed
 * await nats.stop();
 * ```
 */
import { CellarError } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import type { ChildProcess, ProcessSignal } from "../runtime/types.ts";
import { keyToken } from "./protocol.ts";

export interface LocalNatsOptions {
  /** JetStream's file storage and the config file go here (created). */
  dir: string;
  /** The address it binds. Default 127.0.0.1. */
  host?: string;
  /** 0 (the default): a free port, kept across restart(). */
  port?: number;
  /** The program. Default `nats-server`, from PATH. */
  command?: string;
  /** How long it has to say "Server is ready". Default 10 s. */
  readyTimeoutMs?: number;
}

/** A NATS user and its password. */
export interface NatsUser {
  user: string;
  pass: string;
  /**
   * With `ownInbox`: the only subjects it may subscribe to are under this prefix (`_INBOX_<user>`), so it must
   * connect with it (nats.js `inboxPrefix`). The replies JetStream sends it — its pulled chunks, its KV reads —
   * come there, and no other user's do.
   */
  inboxPrefix?: string;
}

/** The name of the server's own user. */
export const SERVER_USER = "cellar";
/** What a user name may be: plain, so that it reads the same in the config, a URL and a log line. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const READY = /Server is ready/;
const LISTENING = /Listening for client connections on (\S+):(\d+)/;
const RELOADED = /Reloaded server configuration/;

/** Starts a local nats-server in `options.dir` and resolves once it accepts connections. */
export async function startLocalNats(options: LocalNatsOptions): Promise<LocalNats> {
  const nats = new LocalNats(options);
  await nats.start();
  return nats;
}

export class LocalNats {
  readonly dir: string;
  readonly host: string;
  /** The server's own user: what `cellar serve` connects as. */
  readonly admin: NatsUser = { user: SERVER_USER, pass: secret() };
  readonly #options: LocalNatsOptions;
  /** Each added user's password, the subjects it may not publish to, and the only ones it may subscribe to (all when absent). */
  readonly #users = new Map<string, { pass: string; deny: string[]; subscribe?: string[] }>();
  #port: number;
  #child: ChildProcess | undefined;
  /** How the nats-server ended when nobody stopped it (killed, crashed), until the next start. */
  #died: string | undefined;
  #log = "";
  /** Reloads nats-server has confirmed, and the last error it logged. */
  readonly #reloads: { ok: number; error?: string | undefined } = { ok: 0 };
  /** Config writes and reloads one at a time, in order: a later user change never lands before an earlier one. */
  #changes: Promise<void> = Promise.resolve();

  constructor(options: LocalNatsOptions) {
    this.#options = options;
    this.dir = runtime.resolve(options.dir);
    this.host = options.host ?? "127.0.0.1";
    this.#port = options.port ?? 0;
  }

  get configPath(): string {
    return `${this.dir}/nats-server.conf`;
  }

  get port(): number {
    return this.#port;
  }

  /** The pid of the running nats-server (0 while stopped). */
  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  /** The client URLs, without credentials: what a client is given with a user and password beside. */
  get servers(): string[] {
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    return [`nats://${host}:${this.#port}`];
  }

  /** The admin user's URL with its credentials in it (what `--nats` takes). */
  get url(): string {
    const [server] = this.servers;
    return server.replace("nats://", `nats://${this.admin.user}:${this.admin.pass}@`);
  }

  /** The last lines nats-server wrote (for an error message). */
  logTail(lines = 5): string {
    return this.#log.trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Starts it (again, after stop(), on the same port) and resolves once it is ready. */
  async start(): Promise<void> {
    if (this.#child) return;
    this.#died = undefined;
    await runtime.mkdir(this.dir);
    await this.#refuseAnother();
    await this.#writeConfig();
    this.#log = "";
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    let partial = "";
    const child = runtime.spawnProcess(this.#options.command ?? "nats-server", ["-c", this.configPath, "-P", this.#pidPath()], {
      onOutput: (text) => {
        const lines = (partial + text).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.#line(line, ready);
      },
    });
    this.#child = child;
    // A nats-server that died (or a test's SIGKILL) is gone: start() may start another.
    void child.exited.then((exit) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      this.#died = exit.signal ?? `code ${exit.code}`;
    });
    const timeoutMs = this.#options.readyTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      isReady.then(() => "ready" as const),
      child.exited.then((e) => e),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome !== "ready") {
      this.#child = undefined;
      child.kill("SIGKILL");
      const why = outcome === "timeout" ? `did not say it was ready within ${timeoutMs / 1000} s` : outcome.error
        ? `could not be started (${outcome.error}); install it (Debian: apt-get install nats-server, or scripts/setup.sh)`
        : `exited with ${outcome.signal ?? `code ${outcome.code}`}`;
      throw new CellarError(`nats-server in ${this.dir} ${why}${this.#log ? `:\n${this.logTail()}` : ""}`);
    }
    // From now on the config names the port it took, so that a reload keeps it and a restart returns to it.
    await this.#writeConfig();
  }

  /** Stops it (SIGTERM: JetStream flushes its files), waiting for it to exit; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([child.exited, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
    child.kill("SIGKILL");
    await child.exited;
  }

  /** stop() then start(): the same port, the same JetStream files, the same users. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Sends the running nats-server a signal (a test's SIGKILL or SIGSTOP); the handle forgets a killed one. */
  signal(signal: ProcessSignal): void {
    this.#child?.kill(signal);
  }

  /**
   * Adds a user with a new password (or gives `user` a new one) and reloads; resolves once reloaded.
   * `deny`: subjects it may not publish to (NATS wildcards), e.g. the JetStream API calls that delete streams.
   * `ownInbox`: it may subscribe only under an inbox prefix of its own (NatsUser.inboxPrefix), not to other
   * users' replies nor to any published subject: what it receives is what was sent to it.
   */
  addUser(user: string, options: { deny?: string[]; ownInbox?: boolean } = {}): Promise<NatsUser> {
    if (!USER_NAME.test(user) || user === SERVER_USER) {
      throw new CellarError(`NATS user ${JSON.stringify(user)}: expected letters, digits, '.', '_' or '-' (up to 100), and not "${SERVER_USER}"`);
    }
    const pass = secret();
    // keyToken: one subject token (no '.'), so that no user's prefix is another's followed by a token.
    const inboxPrefix = options.ownInbox ? `_INBOX_${keyToken(user)}` : undefined;
    this.#users.set(user, { pass, deny: options.deny ?? [], ...(inboxPrefix ? { subscribe: [`${inboxPrefix}.>`] } : {}) });
    return this.#change().then(() => ({ user, pass, ...(inboxPrefix ? { inboxPrefix } : {}) }));
  }

  /** Removes a user and reloads, which closes its connections; false when there was no such user. */
  async removeUser(user: string): Promise<boolean> {
    if (!this.#users.delete(user)) return false;
    await this.#change();
    return true;
  }

  /** Rewrites the config and reloads the running server (SIGHUP = `nats-server --signal reload`). */
  reload(): Promise<void> {
    return this.#change();
  }

  #change(): Promise<void> {
    const next = this.#changes.then(async () => {
      await this.#writeConfig();
      if (this.#child) await this.#reloaded();
      // The config holds the change for the next start; the clients meanwhile have no server.
      else if (this.#died) throw new CellarError(`nats-server in ${this.dir} has exited (${this.#died}) and is not running:\n${this.logTail()}`);
    });
    this.#changes = next.catch(() => {});
    return next;
  }

  /** One line of nats-server's log: kept (the last few, for error messages) and read for what it tells. */
  #line(line: string, ready: () => void): void {
    this.#log = (this.#log + line + "\n").slice(-10_000);
    const listening = line.match(LISTENING);
    if (listening) this.#port = Number(listening[2]);
    else if (READY.test(line)) ready();
    else if (RELOADED.test(line)) this.#reloads.ok++;
    else if (/Failed to reload/i.test(line)) this.#reloads.error = line;
  }

  /** Sends SIGHUP and waits for the log line that says the new config is in force. */
  async #reloaded(): Promise<void> {
    const seen = this.#reloads.ok;
    this.#reloads.error = undefined;
    this.#child!.kill("SIGHUP");
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      if (this.#reloads.ok > seen) return;
      if (this.#reloads.error) throw new CellarError(`nats-server in ${this.dir} refused its new config: ${this.#reloads.error}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new CellarError(`nats-server in ${this.dir} did not confirm the reload of its config within 5 s`);
  }

  async #writeConfig(): Promise<void> {
    const users = [[this.admin.user, { pass: this.admin.pass, deny: [] as string[] }] as const, ...this.#users].map(([user, { pass, ...rules }]) => {
      return `    { user: ${quote(user)}, password: ${quote(pass)}${permissionsOf(rules)} }`;
    });
    const text = [
      "# Written by cellar (kernel/remote/nats-local.ts); rewritten as workers join and are revoked. Mode 0600: it holds passwords.",
      `host: ${quote(this.host)}`,
      // -1: nats-server picks a free port; once it has, the config names it.
      `port: ${this.#port === 0 ? -1 : this.#port}`,
      `server_name: "cellar"`,
      `jetstream { store_dir: ${quote(this.dir)} }`,
      "authorization {",
      "  users: [",
      users.join(",\n"),
      "  ]",
      "}",
      "",
    ].join("\n");
    // A new file each time (mode applies at creation), renamed over the old: nats-server never reads half of one.
    const temporary = `${this.configPath}.${runtime.pid()}.tmp`;
    await runtime.remove(temporary);
    await runtime.writeTextFile(temporary, text, { mode: 0o600 });
    await runtime.rename(temporary, this.configPath);
  }

  #pidPath(): string {
    return `${this.dir}/nats-server.pid`;
  }

  /** Two nats-servers on one JetStream directory would corrupt it: one left running by a killed process is refused. */
  async #refuseAnother(): Promise<void> {
    const path = this.#pidPath();
    if (!(await runtime.exists(path))) return;
    const pid = Number((await runtime.readTextFile(path)).trim());
    if (runtime.processAlive(pid)) {
      throw new CellarError(`nats-server pid ${pid} still runs on ${this.dir} (${path}); stop it first, or remove the file if that process is not nats-server`);
    }
    await runtime.remove(path);
  }
}

/** 32 random bytes as hex: a password with nothing to escape in a config file or a URL. */
function secret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A user's `permissions` block in the config, or nothing when it may do everything. */
function permissionsOf({ deny, subscribe }: { deny: string[]; subscribe?: string[] }): string {
  const list = (subjects: string[]) => `[${subjects.map(quote).join(", ")}]`;
  const parts = [
    ...(deny.length > 0 ? [`publish: { deny: ${list(deny)} }`] : []),
    ...(subscribe ? [`subscribe: { allow: ${list(subscribe)} }`] : []),
  ];
  return parts.length > 0 ? `, permissions: { ${parts.join(", ")} }` : "";
}

/** A string as the NATS config reads one: JSON's quoting is what its parser takes for a double-quoted string. */
function quote(text: string): string {
  return JSON.stringify(text);
}
