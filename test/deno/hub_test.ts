// A model by hub id under Deno: downloaded from the local hub (test/fixtures/hub-server.ts) through Deno's
// runtime adapter (its fetch, appendFile, symlink, hasher), a body cut midway resumed with Range, then
// embedded; loaded again offline from the cache.
import { fetchHubModel } from "../../cells/models/hub.ts";
import { loadEmbedder } from "../../cells/embed/embedder.ts";
import { writeTinyBert } from "../fixtures/tiny-bert.ts";
import { commitOf, readModelFiles, startHubServer } from "../fixtures/hub-server.ts";

const FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"];

Deno.test("a hub model downloads, resumes, embeds and loads offline under Deno", async () => {
  const work = await Deno.makeTempDir({ prefix: "cellar-hub-deno-" });
  const files = readModelFiles(writeTinyBert(`${work}/model`, { dtypes: ["fp32"] }));
  const commit = commitOf(files);
  const hub = await startHubServer([{ id: "acme/deno-bert", commits: { [commit]: files }, refs: { main: commit } }]);
  Deno.env.set("HF_ENDPOINT", hub.url);
  Deno.env.set("CELLAR_MODEL_CACHE", `${work}/cache`);
  try {
    hub.cutOnce("onnx/model.onnx", 0.5);
    const model = await fetchHubModel("acme/deno-bert", { files: FILES, log: () => {} });
    if (model.revision !== commit) throw new Error(`resolved ${model.revision}, expected ${commit}`);
    const cdn = hub.requests.filter((r) => r.server === "cdn");
    if (cdn.length !== 2 || !/^bytes=[1-9]\d*-$/.test(cdn[1].range ?? "")) throw new Error(`CDN requests: ${JSON.stringify(cdn)}`);
    const embedder = await loadEmbedder("acme/deno-bert", { device: "cpu" });
    if (embedder.id !== `transformers:acme/deno-bert@${commit.slice(0, 12)}:fp32`) throw new Error(`embedder id ${embedder.id}`);
    if ((await embedder.embed(["lift"]))[0].length !== 32) throw new Error("expected 32 dimensions");
    await hub.close();
    Deno.env.set("HF_ENDPOINT", "http://127.0.0.1:9");
    const again = await fetchHubModel("acme/deno-bert", { files: FILES });
    if (again.dir !== model.dir) throw new Error(`offline: ${again.dir}`);
  } finally {
    await hub.close();
    await Deno.remove(work, { recursive: true });
  }
});
