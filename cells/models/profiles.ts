/**
 * Model profiles: what a model of a known family needs to be used as its
 * authors intend — pooling (mean or CLS), normalization, the most tokens it
 * was trained to read, and the prefixes its queries and documents take (e5
 * wants `query: ` and `passage: `; bge wants its query instruction). Without
 * them a model still embeds, but ranks worse than its model card says.
 *
 * A model is matched by name: its hub id (`intfloat/e5-small-v2`), a local
 * directory named after it (a path segment `e5-small-v2`), or the
 * `_name_or_path` its config.json records; or a profile is named outright
 * (`--param modelProfile=e5`). An unknown model gets the library's defaults
 * (`DEFAULT_PROFILE`: mean pooling, normalized, no prefixes, its config's
 * token limit), and the loader says so once.
 *
 * Each entry's facts are from its model card (see the README's profile table);
 * `maxTokens` counts the special tokens ([CLS], [SEP]), as the cards' sequence
 * lengths do, and is left to the config where the card gives none.
 *
 * @example
 * ```ts
 * import { applyPrefix, profileFor, profileTag } from "./profiles.ts";
 *
 * const e5 = profileFor("intfloat/e5-small-v2")!;
 * applyPrefix(e5, ["what is lift?"], "query"); // ["query: what is lift?"]
 * profileTag(e5); // ":e5" — part of the embedder id, so a change of prefix is a change of model
 * profileFor("my-org/my-model"); // undefined: the config's defaults
 * ```
 */
import { paramError } from "../../kernel/mod.ts";

export type Pooling = "mean" | "cls" | "none";

/** Which texts an embedding is of: a query searched with, or a document (chunk) searched in. */
export type TextForm = "query" | "document";

export interface ModelProfile {
  /** What `modelProfile=` takes, and what the embedder id carries when the profile changes vectors. */
  readonly name: string;
  /** The models it is for, as the README's table names them. */
  readonly family: string;
  /** "none": a cross-encoder's logits, not an embedding. */
  readonly pooling: Pooling;
  readonly normalize: boolean;
  /** The most tokens the model reads, special tokens included; undefined: its config's limit. */
  readonly maxTokens?: number;
  readonly queryPrefix: string;
  readonly documentPrefix: string;
  /** A cross-encoder scores (query, document) pairs and cannot embed. */
  readonly kind: "embedding" | "cross-encoder";
}

interface Entry extends ModelProfile {
  /** Matched against the last one or two path segments of a name, case-insensitively. */
  readonly match: RegExp;
}

/** What transformers.js's feature-extraction gives a model it knows nothing about, as Cellar always did. */
export const DEFAULT_PROFILE: ModelProfile = {
  name: "default",
  family: "any other model",
  pooling: "mean",
  normalize: true,
  queryPrefix: "",
  documentPrefix: "",
  kind: "embedding",
};

const BGE_QUERY = "Represent this sentence for searching relevant passages: ";

const embedding = { normalize: true, queryPrefix: "", documentPrefix: "", kind: "embedding" } as const;

/** The known families, the first match wins (a specific model before its family). */
const ENTRIES: readonly Entry[] = [
  { ...embedding, name: "minilm-l6", family: "sentence-transformers/all-MiniLM-L6-v2", pooling: "mean", maxTokens: 256, match: /^(sentence-transformers\/)?all-minilm-l6-v2$/ },
  { ...embedding, name: "mpnet", family: "sentence-transformers/all-mpnet-base-v2", pooling: "mean", maxTokens: 384, match: /^(sentence-transformers\/)?all-mpnet-base-v2$/ },
  {
    ...embedding,
    name: "sentence-transformers",
    family: "sentence-transformers/all-* and paraphrase-*",
    pooling: "mean",
    match: /^(sentence-transformers\/)?(all-[\w.]+(-[\w.]+)*-v\d|paraphrase-[\w.-]+)$/,
  },
  {
    ...embedding,
    name: "bge",
    family: "BAAI/bge-{small,base,large}-en-v1.5",
    pooling: "cls",
    maxTokens: 512,
    queryPrefix: BGE_QUERY,
    match: /^(baai\/)?bge-(small|base|large)-en-v1\.5$/,
  },
  {
    ...embedding,
    name: "e5",
    family: "intfloat/e5-{small,base,large}-v2",
    pooling: "mean",
    maxTokens: 512,
    queryPrefix: "query: ",
    documentPrefix: "passage: ",
    match: /^(intfloat\/)?e5-(small|base|large)-v2$/,
  },
  {
    ...embedding,
    name: "multilingual-e5",
    family: "intfloat/multilingual-e5-{small,base,large}",
    pooling: "mean",
    maxTokens: 512,
    queryPrefix: "query: ",
    documentPrefix: "passage: ",
    match: /^(intfloat\/)?multilingual-e5-(small|base|large)$/,
  },
  { ...embedding, name: "gte", family: "thenlper/gte-{small,base,large}", pooling: "mean", maxTokens: 512, match: /^(thenlper\/)?gte-(small|base|large)$/ },
  {
    ...embedding,
    name: "nomic",
    family: "nomic-ai/nomic-embed-text-v1, v1.5",
    pooling: "mean",
    maxTokens: 8192,
    queryPrefix: "search_query: ",
    documentPrefix: "search_document: ",
    match: /^(nomic-ai\/)?nomic-embed-text-v1(\.5)?$/,
  },
  {
    ...embedding,
    name: "mxbai",
    family: "mixedbread-ai/mxbai-embed-large-v1",
    pooling: "cls",
    maxTokens: 512,
    queryPrefix: BGE_QUERY,
    match: /^(mixedbread-ai\/)?mxbai-embed-large-v1$/,
  },
  {
    ...embedding,
    name: "cross-encoder",
    family: "cross-encoder/ms-marco-MiniLM-L-{2,4,6,12}-v2, ms-marco-TinyBERT-L-2-v2",
    pooling: "none",
    normalize: false,
    kind: "cross-encoder",
    match: /^(cross-encoder\/)?ms-marco-(minilm|tinybert)-l-?\d+-v2$/,
  },
];

/** Every profile, the default last: the README's table. */
export const PROFILES: readonly ModelProfile[] = [...ENTRIES.map(({ match: _, ...profile }) => profile), DEFAULT_PROFILE];

/** What `modelProfile=` accepts: "auto" (by the model's name) or an embedding profile's name. */
export const PROFILE_NAMES = ["auto", ...PROFILES.filter((p) => p.kind === "embedding").map((p) => p.name)] as const;

/**
 * The profile of the first of `names` that one matches: a hub id (`org/name`, `@revision` or not),
 * a directory path (its last one or two segments, or a hub cache's `models--org--name` segment),
 * a config's `_name_or_path`.
 */
export function profileFor(...names: Array<string | undefined>): ModelProfile | undefined {
  for (const name of names) {
    if (!name) continue;
    const segments = name.replace(/@[^/]*$/, "").split(/[\\/]+/).filter(Boolean).map((s) => s.toLowerCase());
    const cached = segments.filter((s) => s.startsWith("models--")).map((s) => s.slice("models--".length).replaceAll("--", "/"));
    const candidates = [...cached, segments.slice(-2).join("/"), segments[segments.length - 1] ?? ""];
    for (const candidate of candidates) {
      const entry = ENTRIES.find((e) => e.match.test(candidate));
      if (entry) return PROFILES.find((p) => p.name === entry.name);
    }
  }
  return undefined;
}

/** The profile named `name` (`modelProfile=`), refused in one line when there is none. */
export function profileNamed(name: string): ModelProfile {
  const profile = PROFILES.find((p) => p.name === name && p.kind === "embedding");
  if (!profile) throw paramError("modelProfile", `"auto" or one of ${PROFILE_NAMES.slice(1).map((p) => `"${p}"`).join(", ")}`, name);
  return profile;
}

/** Whether a profile embeds exactly as DEFAULT_PROFILE does: then the embedder id stays as it always was. */
export function embedsAsDefault(profile: ModelProfile): boolean {
  return profile.pooling === DEFAULT_PROFILE.pooling && profile.normalize === DEFAULT_PROFILE.normalize &&
    profile.queryPrefix === "" && profile.documentPrefix === "";
}

/**
 * The embedder id's suffix: "" for a profile that embeds as the default one, else ":<name>", so that
 * vectors made with other prefixes or pooling are never reused or searched as if they were the same.
 */
export function profileTag(profile: ModelProfile): string {
  return embedsAsDefault(profile) ? "" : `:${profile.name}`;
}

/** `texts` as the model reads them in `form`: each with the profile's prefix, or as they are. */
export function applyPrefix(profile: ModelProfile, texts: string[], form: TextForm): string[] {
  const prefix = form === "query" ? profile.queryPrefix : profile.documentPrefix;
  return prefix === "" ? texts : texts.map((text) => prefix + text);
}

const announced = new Set<string>();

/**
 * The profile for a model: the one named (`explicit`, unless "auto"), else the one its names match, else
 * DEFAULT_PROFILE — said once per model to `log`, since the model then embeds as the library's
 * defaults do rather than as its authors may intend.
 */
export function resolveProfile(
  options: { explicit?: string; names: Array<string | undefined>; log?: (message: string) => void; describe?: () => string },
): ModelProfile {
  if (options.explicit && options.explicit !== "auto") return profileNamed(options.explicit);
  const found = profileFor(...options.names);
  if (found) return found;
  const model = options.names.find(Boolean) ?? "the model";
  if (options.log && !announced.has(model)) {
    announced.add(model);
    options.log(
      `model ${model}: no profile for it (known: ${ENTRIES.map((e) => e.name).join(", ")}); using its config's defaults: ` +
        `${options.describe?.() ?? "mean pooling, normalized, no prefixes"} (--param modelProfile=<name> names one)`,
    );
  }
  return DEFAULT_PROFILE;
}
