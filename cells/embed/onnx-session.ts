/**
 * The onnxruntime device choice and session opening that the transformers
 * embedder and the cross-encoder judge share: WebGPU only on a hardware adapter
 * (a software one, lavapipe or SwiftShader, is 10–40× slower than onnxruntime's
 * CPU kernels), and a WebGPU session that fails to open falls back to the CPU,
 * saying so.
 *
 * @example
 * ```ts
 * import { AutoModel } from "@huggingface/transformers";
 * import type { Context } from "../../kernel/mod.ts";
 * import { openSession } from "./onnx-session.ts";
 *
 * declare const ctx: Context, name: string, dir: string;
 * const { session: model, device } = await openSession(`model ${name}`, "auto", (on) =>
 *   AutoModel.from_pretrained(dir, { device: on, local_files_only: true }), ctx.log.info);
 * ```
 */
import { errorLine, runtime } from "../../kernel/mod.ts";

export type OnnxDevice = "cpu" | "webgpu";

/** The device for `requested`: "auto" is WebGPU on a hardware adapter (and not under CELLAR_DEVICES=cpu), else the CPU. */
async function pickDevice(requested: "auto" | OnnxDevice): Promise<OnnxDevice> {
  if (requested !== "auto") return requested;
  if (runtime.env("CELLAR_DEVICES") === "cpu") return "cpu";
  const adapter = await (await runtime.gpu())?.requestAdapter({ powerPreference: "high-performance" }).catch(() => null);
  return adapter && !adapter.info.isFallbackAdapter ? "webgpu" : "cpu";
}

/** `open` on the picked device, again on the CPU if a WebGPU session fails; `log` hears the device and any fallback. */
export async function openSession<T>(
  what: string,
  requested: "auto" | OnnxDevice,
  open: (on: OnnxDevice) => Promise<T>,
  log?: (message: string) => void,
): Promise<{ session: T; device: OnnxDevice }> {
  let device = await pickDevice(requested);
  log?.(`${what} runs on ${device === "webgpu" ? "WebGPU" : "the CPU"}`);
  const session = await open(device).catch(async (err) => {
    if (device !== "webgpu") throw err;
    log?.(`WebGPU session failed (${errorLine(err)}); using the CPU`);
    device = "cpu";
    return await open(device);
  });
  return { session, device };
}
