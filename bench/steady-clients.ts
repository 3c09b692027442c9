// 200 clients polling one URL, each on a keep-alive connection of its own at a steady rate with jitter:
// client i first sends at i/N of a period, then every period × U(0.5, 1.5), so their requests do not line up
// (autocannon's -R sends each tick's requests together). A request's latency is counted from when it was due,
// so a client whose last answer came late is charged for the wait (no coordinated omission). Node only;
// bench/server-api.bench.ts runs it in a process of its own and reads the JSON line it prints.
//
//   node --import tsx bench/steady-clients.ts <url> <clients> <overall rate per second> <seconds> <warm-up seconds>
import { Agent, request } from "node:http";

const [url, clientsArg, rateArg, secondsArg, warmArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const periodMs = (1000 * clients) / Number(rateArg);
const warmMs = Number(warmArg) * 1000;
const endMs = warmMs + Number(secondsArg) * 1000;
if (!url || !(clients > 0) || !(periodMs > 0) || !(endMs > warmMs)) {
  throw new Error(`usage: steady-clients.ts <url> <clients> <rate> <seconds> <warm-up seconds>; got ${process.argv.slice(2).join(" ")}`);
}

const agent = new Agent({ keepAlive: true, maxSockets: clients });
const t0 = performance.now();
const latencies: number[] = [];
let errors = 0;
let non2xx = 0;

function get(): Promise<number> {
  return new Promise((resolve, reject) => {
    // One agent per client would be closer still; maxSockets = clients gives each in-flight request its own socket.
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode ?? 0));
    });
    req.once("error", reject);
    req.end();
  });
}

async function client(i: number): Promise<void> {
  let due = (i / clients) * periodMs;
  while (due < endMs) {
    const wait = due - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // From when it was due, or when it went if the timer woke early (timers are whole milliseconds).
    const sent = Math.min(due, performance.now() - t0);
    try {
      const status = await get();
      if (due >= warmMs) {
        latencies.push(performance.now() - t0 - sent);
        if (status < 200 || status >= 300) non2xx++;
      }
    } catch {
      if (due >= warmMs) errors++;
    }
    due += periodMs * (0.5 + Math.random());
  }
}

await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
console.log(JSON.stringify({
  p50_ms: at(0.5),
  p90_ms: at(0.9),
  p99_ms: at(0.99),
  max_ms: at(1),
  requests_per_second: Math.round(latencies.length / ((endMs - warmMs) / 1000)),
  requests: latencies.length,
  errors,
  non_2xx: non2xx,
}));
