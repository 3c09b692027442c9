/**
 * Content hashes for cache keys and checkpoints.
 *
 * @example
 * await sha256("hello"); // "2cf24dba…"
 */
const encoder = new TextEncoder();

export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
