/**
 * Chunk tickets: the proof that whoever wrote a chunk's result was delivered the chunk.
 *
 * The server signs each message it publishes with an HMAC-SHA256 of its Nats-Msg-Id under a secret that
 * never leaves the server, and puts the signature in the message. A worker copies it into the record it
 * writes; the server accepts a record only when its ticket verifies. A worker that was not delivered the
 * chunk has never seen the ticket and cannot make one: first-writer-wins on the result key alone would let
 * any worker on the bus answer any chunk whose key it can compute. The Msg-Id is what is signed, not the
 * chunk key, because a chunk published again (after a final failure was deleted, or a refused record) gets
 * a new Msg-Id: a ticket copied from the old record does not answer the new message.
 *
 * The secret is `cellar serve`'s, kept beside its store so that records written before a restart still
 * verify after it; without one a process makes its own, and records from an earlier process are refused
 * (their chunks run again: safe, only slower).
 *
 * @example
 * ```ts
 * import { ChunkTickets } from "./ticket.ts";
 *
 * const tickets = await ChunkTickets.create("0f3a…");
 * const ticket = await tickets.sign("a1b2c3.7.sign.0.9f…");
 * await tickets.verify("a1b2c3.7.sign.0.9f…", ticket); // → true
 * await tickets.verify("a1b2c3.7.sign.1.4d…", ticket); // → false
 * ```
 */
import { CellarError } from "../errors.ts";

const encoder = new TextEncoder();

export class ChunkTickets {
  private constructor(readonly key: CryptoKey) {}

  /** Tickets under `secret` (at least 32 hex characters), or under a fresh random one. */
  static async create(secret?: string): Promise<ChunkTickets> {
    if (secret !== undefined && !/^[0-9a-f]{32,}$/i.test(secret)) {
      throw new CellarError(`chunk ticket secret: expected at least 32 hex characters, got ${secret.length} characters`);
    }
    const bytes = secret === undefined ? crypto.getRandomValues(new Uint8Array(32)) : hexBytes(secret);
    const key = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    return new ChunkTickets(key);
  }

  /** The ticket of the message published under `msgId`, as base64url. */
  async sign(msgId: string): Promise<string> {
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.key, encoder.encode(msgId)));
    return btoa(String.fromCharCode(...mac)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  }

  /** Whether `ticket` is this server's for `msgId` (compared in constant time by WebCrypto). */
  async verify(msgId: string, ticket: string): Promise<boolean> {
    let mac: Uint8Array<ArrayBuffer>;
    try {
      mac = Uint8Array.from(atob(ticket.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
    } catch {
      return false;
    }
    return await crypto.subtle.verify("HMAC", this.key, mac, encoder.encode(msgId));
  }
}

/** A fresh secret for `ChunkTickets.create`: what `cellar serve` writes beside its store on first start. */
export function newTicketSecret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(new ArrayBuffer(hex.length >> 1));
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
