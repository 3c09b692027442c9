// The control plane of remote kernels under Deno: `cellar serve --nats-local`'s nats-server started through
// the Deno adapter (Deno.Command), a worker joining with the join token over real HTTP (Deno.serve), its
// heartbeat, its revocation (403, its NATS user gone from the 0600 config), and the nats-server stopped
// with the server. Run with: deno task test
import assert from "node:assert/strict";
import { joinServer, JoinRefused } from "../../kernel/remote/join.ts";
import { processAlive } from "../../kernel/runtime/node.ts";
import { startServer } from "../../server/serve.ts";

Deno.test({
  name: "a worker joins, heartbeats and is revoked under Deno, against a nats-server of the server's own",
  // DuckDB's and the watcher's resources outlive the test by design; the server is closed at its end.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cellar-workers-" });
    const server = await startServer({ db: `${dir}/cellar.duckdb`, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: "t", natsLocal: true });
    const nats = server.localNats!;
    const pid = nats.pid;
    try {
      const joined = await joinServer({ server: server.url, token: "t", name: "deno-w", devices: [{ id: "cpu", kind: "cpu", budget: 2, memoryBytes: 0 }], codeVersions: {} });
      assert.deepEqual(joined.nats.servers, nats.servers);
      assert.equal(joined.nats.user, "worker-deno-w");
      assert.match(await Deno.readTextFile(nats.configPath), /worker-deno-w/);
      assert.equal((await Deno.stat(nats.configPath)).mode! & 0o777, 0o600);
      await joined.heartbeat({ inFlight: 1 });
      const revoke = await fetch(`${server.url}/api/v1/workers/deno-w/revoke`, { method: "POST", headers: { authorization: "Bearer t" } });
      assert.equal(revoke.status, 200);
      assert.equal((await revoke.json()).state, "revoked");
      assert.doesNotMatch(await Deno.readTextFile(nats.configPath), /worker-deno-w/);
      const refused = await joined.heartbeat().then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof JoinRefused && refused.status === 403, String(refused));
    } finally {
      await server.close();
    }
    assert.ok(pid > 0);
    assert.equal(processAlive(pid), false);
    await Deno.remove(dir, { recursive: true });
  },
});
