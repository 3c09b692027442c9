/**
 * `/devices`: each GPU device of the pool, on its host — the fraction claimed and the memory claimed (as
 * bars), its leases — and the claims waiting for room; below, the remote kernels that joined (alive, lost
 * or revoked) with their devices. devices.js keeps it current: on the event stream's
 * run, cell and progress events it fetches this page again and swaps the `[data-devices]` part, so it
 * changes while something runs and asks for nothing while nothing does (a worker's
 * state, such as lost after missed heartbeats, shows at the next of those events or the next load).
 *
 * @example
 * ```ts
 * import { openCellar } from "../../kernel/mod.ts";
 * import { devicesPage } from "./devices-page.tsx";
 *
 * const page = devicesPage(await openCellar({ db: "/tmp/cellar.duckdb" }).devices());
 * ```
 */
import { type DeviceSnapshot, type DeviceState, type WorkerView, WorkerState } from "../../kernel/mod.ts";
import { Layout } from "./layout.tsx";

export const DEVICES_SCRIPT = "/ui/devices.js";
const BAR_WIDTH = 160;

export function devicesPage(snapshot: DeviceSnapshot, workers: WorkerView[] = []) {
  return (
    <Layout title="Devices" nav="Devices" scripts={[DEVICES_SCRIPT]}>
      <h1>Devices</h1>
      <p class="sub">
        the GPU devices ctx.map places claims on · <span data-devices-status="" class="muted">as of the page load</span>
      </p>
      <DevicesPart snapshot={snapshot} workers={workers} />
    </Layout>
  );
}

/** What devices.js replaces: the queue, the table and the remote kernels. */
export function DevicesPart(props: { snapshot: DeviceSnapshot; workers?: WorkerView[] }) {
  const { snapshot } = props;
  const leases = snapshot.devices.reduce((n, d) => n + d.leases, 0);
  return (
    <div data-devices="">
      <p class="devices-summary">
        <span>host <b class="mono">{snapshot.host}</b></span>
        <span>{`${snapshot.devices.length} device${snapshot.devices.length === 1 ? "" : "s"}`}</span>
        <span>leases held <b data-devices-leases="">{String(leases)}</b></span>
        <span>queue <b data-devices-queue="">{String(snapshot.queued)}</b>{snapshot.queued === 1 ? " claim waiting" : " claims waiting"}</span>
      </p>
      {snapshot.devices.length === 0
        ? <div class="empty">No GPU devices on this host (CELLAR_DEVICES=cpu, or no WebGPU adapter): GPU claims run on the CPU path.</div>
        : (
          <table class="list devices">
            <thead><tr><th>Device</th><th>Adapter</th><th>Claimed</th><th>Memory claimed</th><th class="num">Leases</th></tr></thead>
            <tbody>{snapshot.devices.map((d) => <DeviceRow key={`${d.host}/${d.id}`} device={d} />)}</tbody>
          </table>
        )}
      <Workers workers={props.workers ?? []} />
    </div>
  );
}

/** A worker state's badge colour: the run states' palette. */
const WORKER_BADGE: Record<WorkerState, string> = { alive: "state-success", lost: "state-upstream_failed", revoked: "state-failed" };

/** The remote kernels (`cellar worker`) that joined this server, each with its state and devices. */
function Workers(props: { workers: WorkerView[] }) {
  const { workers } = props;
  return (
    <section class="workers" data-workers="">
      <h2>Remote kernels</h2>
      {workers.length > 0
        ? (
          <p class="devices-summary">
            {Object.values(WorkerState).map((state) => (
              <span key={state}>{`${workers.filter((w) => w.state === state).length} ${state}`}</span>
            ))}
          </p>
        )
        : null}
      {workers.length === 0
        ? <div class="empty">No remote kernels have joined. Start one with: cellar worker --server &lt;this server's URL&gt; --token &lt;join token&gt;</div>
        : (
          <table class="list workers">
            <thead><tr><th>Worker</th><th>State</th><th>Devices</th><th class="num">Chunks running</th><th>Last heartbeat</th></tr></thead>
            <tbody>
              {workers.map((w) => (
                <tr key={w.name} data-worker={w.name} data-worker-state={w.state}>
                  <td><b class="mono">{w.name}</b>{w.host ? <div class="small muted">{`on ${w.host}`}</div> : null}</td>
                  <td><span class={`badge ${WORKER_BADGE[w.state]}`}>{w.state}</span></td>
                  <td>{w.devices.length === 0 ? <span class="muted">none</span> : w.devices.map((d) => (
                    <div key={d.id} class="small">
                      <b class="mono">{d.id}</b>{` ${d.kind} · budget ${d.budget}${d.memoryBytes > 0 ? ` · ${bytes(d.memoryBytes)}` : ""}`}
                      {d.description ? <span class="muted">{` · ${d.description}`}</span> : null}
                    </div>
                  ))}</td>
                  <td class="num">{String(w.inFlight)}</td>
                  <td class="mono small">{`${w.lastHeartbeatAt.slice(0, 19).replace("T", " ")} UTC`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </section>
  );
}

function DeviceRow(props: { device: DeviceState }) {
  const d = props.device;
  const memory = d.memoryBytes > 0 ? d.memoryClaimedBytes / d.memoryBytes : 0;
  return (
    <tr data-device={d.id} class={d.removed ? "removed" : ""}>
      <td><b class="mono">{d.id}</b>{d.removed ? <div class="small muted">lost: out of service</div> : null}</td>
      <td>{d.description}{d.fallback ? <span class="opt">software</span> : null}</td>
      <td class="meter"><Bar ratio={d.claimed} /> <span class="mono" data-device-claimed="">{percent(d.claimed)}</span></td>
      <td class="meter"><Bar ratio={memory} /> <span class="mono">{`${bytes(d.memoryClaimedBytes)} of ${bytes(d.memoryBytes)}`}</span></td>
      <td class="num" data-device-leases="">{String(d.leases)}</td>
    </tr>
  );
}

/** An SVG bar: its width is an attribute, not an inline style (the CSP allows none). */
function Bar(props: { ratio: number }) {
  const ratio = Math.min(1, Math.max(0, props.ratio));
  return (
    <svg class="bar" width={BAR_WIDTH} height="10" role="img" aria-label={percent(ratio)}>
      <rect class="bar-bg" x="0" y="0" width={BAR_WIDTH} height="10" rx="3" />
      {ratio > 0 ? <rect class="bar-fill" x="0" y="0" width={Math.max(2, Math.round(ratio * BAR_WIDTH))} height="10" rx="3" /> : null}
    </svg>
  );
}

function percent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(1))}%`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) value /= 1024, unit++;
  // 17179869180 bytes (4 × a max buffer a little under 4 GiB) reads "16 GiB", not "16.0 GiB".
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}
