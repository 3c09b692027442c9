// The Deno suite's way to run the CLI: `deno run -A kernel/cli.ts <args>` from the repository root, CPU only.
export const ROOT = new URL("../..", import.meta.url).pathname;

export async function cellar(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}kernel/cli.ts`, ...args],
    cwd: ROOT,
    env: { CELLAR_DEVICES: "cpu" },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}
