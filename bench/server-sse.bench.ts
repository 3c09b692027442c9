// Live updates: SSE clients on /api/v1/events while a 1,000-cell run goes on. Prints one JSON object per
// result. Node only.
//
//   npx tsx bench/server-sse.bench.ts [--clients 100] [--cells 1000]
//
// The server runs in a process of its own (over a fresh store); the clients, plain HTTP readers of the event
// stream, in this one. Each cell of the pipeline logs the wall-clock time (performance.timeOrigin + now(),
// fractional ms) as it emits the line; a client stamps each chunk as it arrives, so an event's latency is
// receive time − emit time, across the two processes on one clock. The run is triggered through the API
// (POST /api/v1/pipelines/sse/runs) and ends at its `run` event. The server's CPU share is its user + system
// time from /proc/<pid>/stat over the run's wall time (1.0 = one core). Reference, in the same run: the same
// run watched by one client.
import { request } from "node:http";
import { arg, gridStore, serveProcess, type ServerProcess, stampedSource, summary } from "./server-store.ts";

const CLIENTS = Number(arg("clients") ?? 100);
const CELLS = Number(arg("cells") ?? 1000);
const PIPELINE = "sse";

interface Client {
  latencies: number[];
  events: number;
  ended: Promise<void>;
  close(): void;
}

/** One client of /api/v1/events: the latency of each stamped log line, and the end of the run it is told of. */
function connect(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let events = 0;
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const req = request(`${url}/api/v1/events`, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`/api/v1/events: ${res.statusCode}`));
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const now = performance.timeOrigin + performance.now();
        buffer += chunk;
        const blocks = buffer.split("\n\n");
        buffer = blocks.pop()!;
        for (const block of blocks) {
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (!data) continue;
          events++;
          const event = JSON.parse(data.slice(6)) as { type: string; message?: string; state?: string; cell?: string };
          if (event.type === "log" && event.message?.startsWith("t=")) latencies.push(now - Number(event.message.slice(2)));
          if (event.type === "run" && (event.state === "success" || event.state === "failed")) end();
        }
      });
      resolve({ latencies, get events() { return events; }, ended, close: () => req.destroy() });
    });
    req.on("error", (err) => (err.message === "socket hang up" ? undefined : reject(err)));
    req.end();
  });
}

async function watchRun(server: ServerProcess, clients: number, round: number) {
  const connected = await Promise.all(Array.from({ length: clients }, () => connect(server.url)));
  const cpu0 = server.cpuMs();
  const t0 = performance.now();
  const res = await fetch(`${server.url}/api/v1/pipelines/${PIPELINE}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ params: { round } }) });
  if (res.status !== 202) throw new Error(`trigger: ${res.status} ${await res.text()}`);
  await Promise.all(connected.map((c) => c.ended));
  const wallMs = performance.now() - t0;
  const cpuMs = server.cpuMs() - cpu0;
  for (const c of connected) c.close();
  const latencies = connected.flatMap((c) => c.latencies);
  const complete = connected.filter((c) => c.latencies.length === CELLS).length;
  return {
    clients,
    clients_with_every_line: complete,
    events_per_client: Math.round(connected.reduce((n, c) => n + c.events, 0) / clients),
    event_latency: summary(latencies),
    run_wall_ms: Math.round(wallMs),
    server_cpu_ms: Math.round(cpuMs),
    server_cpu_share: Math.round((cpuMs / wallMs) * 100) / 100,
  };
}

const store = await gridStore(0, undefined, { [PIPELINE]: stampedSource(PIPELINE, CELLS) });
const server = await serveProcess(store);
try {
  const reference = await watchRun(server, 1, 1);
  const loaded = await watchRun(server, CLIENTS, 2);
  console.log(JSON.stringify({
    bench: "server_sse_events",
    runtime: "node",
    processes: "server (the app as cellar serve starts it) in one process, the clients in another, over 127.0.0.1",
    cells: CELLS,
    latency: "log line emitted in the cell → chunk received by the client (one clock)",
    with_clients: loaded,
    reference_one_client: reference,
    p99_over_reference: Math.round((loaded.event_latency.p99_ms / Math.max(0.1, reference.event_latency.p99_ms)) * 10) / 10,
    cpu_share_over_reference: Math.round((loaded.server_cpu_share / reference.server_cpu_share) * 100) / 100,
    // The share alone hides a run slowed down by the clients: its CPU time, against the same run's with one.
    server_cpu_ms_over_reference: Math.round((loaded.server_cpu_ms / reference.server_cpu_ms) * 100) / 100,
  }));
} finally {
  await server.close();
}
