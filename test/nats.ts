/**
 * A real nats-server for tests (Debian's `nats-server`, installed by scripts/setup.sh), started by the same
 * code as `cellar serve --nats-local` (kernel/remote/nats-local.ts): JetStream on file storage in a temp
 * directory, password auth, 127.0.0.1 on a free port. No mocks: a test connects with the real client.
 *
 * - `startTestNats()`: one server; `close()` stops it and removes its directory.
 * - `natsForFile()`: call at the top of a test file (or describe); one server shared by the file's tests,
 *   started before the first (beforeAll) and closed after the last (afterAll). Its getter throws if used
 *   before beforeAll ran.
 *
 * What a test gets (a LocalNats): `servers` (["nats://127.0.0.1:<port>"]), `admin` ({ user, pass }, the
 * server's own user), `url` (the admin URL with credentials, what `cellar serve --nats` takes),
 * `addUser(name)` / `removeUser(name)` (config rewritten + reload; a removed user's connections close),
 * `stop()` / `start()` / `restart()` (same port, same JetStream files: for "restart nats-server during a
 * run"), `signal("SIGKILL" | "SIGSTOP" | …)`, `pid`, `dir`.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { natsForFile } from "./nats.ts";
 *
 * const nats = natsForFile();
 * it("publishes", async () => {
 *   const nc = await connect({ servers: nats().servers, user: nats().admin.user, pass: nats().admin.pass });
 *   await nc.close();
 * });
 * ```
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type LocalNats, startLocalNats } from "../kernel/remote/nats-local.ts";
import { tempDir } from "./helpers.ts";

export type TestNats = LocalNats & { close(): Promise<void> };

/** Starts a nats-server in a new temp directory. */
export async function startTestNats(options: { port?: number } = {}): Promise<TestNats> {
  const dir = tempDir("cellar-nats-");
  const nats = await startLocalNats({ dir: join(dir, "nats"), ...(options.port ? { port: options.port } : {}) });
  return Object.assign(nats, {
    close: async () => {
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** One nats-server for the file's tests: started in beforeAll, closed in afterAll. */
export function natsForFile(): () => TestNats {
  let nats: TestNats | undefined;
  beforeAll(async () => {
    nats = await startTestNats();
  });
  afterAll(async () => {
    await nats?.close();
  });
  return () => {
    if (!nats) throw new Error("natsForFile(): the server starts in beforeAll; use it inside a test or a later hook");
    return nats;
  };
}
