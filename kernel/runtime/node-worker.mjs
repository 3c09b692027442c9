// Entry point of a Node worker thread: registers tsx's TypeScript loader in
// this thread (loader flags do not reach a worker's own entry module on
// Node 20), then loads the kernel's worker module.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.url);
