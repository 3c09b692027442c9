/**
 * `/devices`: each GPU device of the pool, on its host — the fraction claimed and the memory claimed (as
 * bars), its leases — and the claims waiting for room. devices.js keeps it current: on the event stream's
 * run, cell and progress events it fetches this page again and swaps the `[data-devices]` part, so it
 * changes while something runs and asks for nothing while nothing does.
 *
 * @example
 * ```ts
 * import { openCellar } from "../../kernel/mod.ts";
 * import { devicesPage } from "./devices-page.tsx";
 *
 * const page = devicesPage(await openCellar({ db: "/tmp/cellar.duckdb" }).devices());
 * ```
 */
import type { DeviceSnapshot, DeviceState } from "../../kernel/mod.ts";
import { Layout } from "./layout.tsx";

export const DEVICES_SCRIPT = "/ui/devices.js";
const BAR_WIDTH = 160;

export function devicesPage(snapshot: DeviceSnapshot) {
  return (
    <Layout title="Devices" scripts={[DEVICES_SCRIPT]}>
      <h1>Devices</h1>
      <p class="sub">
        the GPU devices ctx.map places claims on · <span data-devices-status="" class="muted">as of the page load</span>
      </p>
      <DevicesPart snapshot={snapshot} />
    </Layout>
  );
}

/** What devices.js replaces: the queue and the table. */
export function DevicesPart(props: { snapshot: DeviceSnapshot }) {
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
    </div>
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
