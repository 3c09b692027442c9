// Entry point of a Node handler worker (runtime.spawnHandlerWorker): loads the bundled module and answers
// each message with what its `handle` export returns, one message after another, in order. A handler that
// throws ends the worker, which its owner hears as the worker's error.
import { parentPort, workerData } from "node:worker_threads";

const { handle } = await import(workerData.url);
let previous = Promise.resolve();
parentPort.on("message", (message) => {
  previous = previous.then(async () => parentPort.postMessage(await handle(message)));
});
