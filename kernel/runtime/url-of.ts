/**
 * The URL a client uses to reach a server bound to `hostname`: IPv6 hosts in brackets, a wildcard bind
 * named by its loopback address.
 *
 * @example
 * ```ts
 * import { urlOf } from "./url-of.ts";
 *
 * urlOf("::1", 7878); // → "http://[::1]:7878"
 * ```
 */
export function urlOf(hostname: string, port: number): string {
  const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "[::1]" : hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}`;
}
