import { Store } from "/work/main/kernel/store/store.ts";
import { DuckDBInstance } from "@duckdb/node-api";
const file = process.argv[2];
const s = await Store.open(file);
await s.close();
const inst = await DuckDBInstance.create(file);
const c = await inst.connect();
await c.run("UPDATE cellar_meta SET value = '999' WHERE key = 'schema_version'");
c.closeSync(); inst.closeSync();
