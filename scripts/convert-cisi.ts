/**
 * Converts the CISI test collection's original files (CISI.ALL, CISI.QRY,
 * CISI.REL, SMART format: `.I n` records with `.T` title, `.A` authors, `.W`
 * text, `.B` source, `.X` citations) into the formats of pipelines/data/cranfield:
 * docs.jsonl, queries.jsonl and qrels.trec (see pipelines/data/cisi/README.md).
 *
 * @example
 * ```ts
 * // npx tsx scripts/convert-cisi.ts /tmp/cisi pipelines/data/cisi   (the folder holding CISI.ALL, CISI.QRY, CISI.REL)
 * ```
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type SmartRecord = { id: string; fields: Record<string, string[]> };

/** Splits a SMART file into its `.I` records, each field's lines kept (CRLF and trailing blanks removed). */
function records(text: string): SmartRecord[] {
  const out: SmartRecord[] = [];
  let field = "";
  for (const line of text.replace(/\r/g, "").split("\n")) {
    const start = /^\.I\s+(\d+)\s*$/.exec(line);
    if (start) {
      out.push({ id: start[1], fields: {} });
      field = "";
      continue;
    }
    const marker = /^\.([A-Z])\s*$/.exec(line);
    if (marker) {
      field = marker[1];
      out.at(-1)!.fields[field] ??= [];
      continue;
    }
    if (field !== "") out.at(-1)!.fields[field].push(line);
  }
  return out;
}

/** A field as one line (title, authors) or as text (paragraphs kept, lines joined by spaces). */
const oneLine = (lines: string[] | undefined) => (lines ?? []).map((l) => l.trim()).filter((l) => l !== "").join(" ");
const paragraphs = (lines: string[] | undefined) =>
  (lines ?? []).join("\n").split(/\n\s*\n/).map((p) => oneLine(p.split("\n"))).filter((p) => p !== "").join("\n\n");

function main(from: string, to: string): void {
  const docs = records(readFileSync(join(from, "CISI.ALL"), "latin1")).map((r) => ({
    id: r.id,
    title: oneLine(r.fields.T),
    text: paragraphs(r.fields.W),
    author: (r.fields.A ?? []).map((l) => l.trim()).filter((l) => l !== "").join("; "),
  }));
  const queries = records(readFileSync(join(from, "CISI.QRY"), "latin1")).map((r) => ({
    id: r.id,
    // Queries 58..112 are articles (title, authors, abstract): the title is part of what they ask, as for documents.
    text: [oneLine(r.fields.T), oneLine(r.fields.W)].filter((t) => t !== "").join(" "),
  }));
  const judged = new Map<string, Set<string>>();
  for (const line of readFileSync(join(from, "CISI.REL"), "latin1").replace(/\r/g, "").split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || parts[0] === "") continue;
    if (!judged.has(parts[0])) judged.set(parts[0], new Set());
    judged.get(parts[0])!.add(parts[1]);
  }
  const qrels = [...judged].sort((a, b) => Number(a[0]) - Number(b[0]))
    .flatMap(([qid, ids]) => [...ids].sort((a, b) => Number(a) - Number(b)).map((doc) => `${qid} 0 ${doc} 1`));
  writeFileSync(join(to, "docs.jsonl"), docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  writeFileSync(join(to, "queries.jsonl"), queries.map((q) => JSON.stringify(q)).join("\n") + "\n");
  writeFileSync(join(to, "qrels.trec"), qrels.join("\n") + "\n");
  console.log(JSON.stringify({ documents: docs.length, queries: queries.length, judgedQueries: judged.size, judgments: qrels.length }));
}

main(process.argv[2] ?? "/tmp/cisi", process.argv[3] ?? "pipelines/data/cisi");
