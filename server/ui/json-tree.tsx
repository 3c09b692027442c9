/**
 * A small JSON output as a tree of `<details>`: the first two levels open, deeper ones folded, a vector as
 * its dimensions. No script: the browser folds and unfolds. Keys and values are text, escaped by hono/jsx.
 *
 * @example
 * ```ts
 * import { JsonTree } from "./json-tree.tsx";
 * import { jsonTree } from "../preview/output-preview.ts";
 *
 * const html = String(JsonTree({ node: jsonTree({ docs: 3, embedding: new Array(384).fill(0) }) }));
 * ```
 */
import { type JsonNode, TREE_DEPTH } from "../preview/output-preview.ts";

const OPEN_LEVELS = 2;

export function JsonTree(props: { node: JsonNode }) {
  return <div class="json-tree">{node(props.node, 0)}</div>;
}

function node(n: JsonNode, depth: number) {
  const key = n.key === undefined ? null : <span class="j-key">{`${n.key}: `}</span>;
  if (n.kind === "leaf") return <span class="j-leaf">{key}<span class={`j-${n.type}`}>{n.text}</span></span>;
  if (n.kind === "vector") return <span class="j-leaf">{key}<span class="j-vector">{`vector · ${n.dims} dims`}</span></span>;
  const shape = n.array ? `[${n.size} item${n.size === 1 ? "" : "s"}]` : `{${n.size} key${n.size === 1 ? "" : "s"}}`;
  if (n.folded || n.size === 0) return <span class="j-leaf">{key}<span class="j-shape">{n.folded ? `${shape} · deeper than ${TREE_DEPTH} levels` : n.array ? "[]" : "{}"}</span></span>;
  const more = n.size - n.children.length;
  return (
    <details open={depth < OPEN_LEVELS}>
      <summary>{key}<span class="j-shape">{shape}</span></summary>
      <ul>
        {n.children.map((c) => <li key={c.key}>{node(c, depth + 1)}</li>)}
        {more > 0 ? <li class="muted">{`… ${more} more`}</li> : null}
      </ul>
    </details>
  );
}
