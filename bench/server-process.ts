// The server of the server benchmarks, in a process of its own: what `cellar serve --port 0` starts (the
// facade over the store, the app, the pipelines directory watched), without the CLI around it.
//
//   node --import tsx bench/server-process.ts <db> <pipelines dir>   → prints "listening on <url>"
import { startServer } from "../server/serve.ts";

const [db, pipelines] = process.argv.slice(2);
const server = await startServer({ db, host: "127.0.0.1", port: 0, pipelines, schedule: false });
process.stdout.write(`listening on ${server.url}\n`);
process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
