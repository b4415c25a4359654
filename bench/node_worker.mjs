// Node BullMQ's Worker with a no-op processor, for bench/queue.py.
// argv: <redis-url> <prefix> <queue> <concurrency> <jobs>. Prints {"seconds": ...} once all jobs completed,
// timed from the Worker's construction, as the Python side times from worker.run().
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/interop/node/package.json", import.meta.url));
const { Worker } = require("bullmq");

const [url, prefix, queueName, concurrency, jobs] = process.argv.slice(2);
const redis = new URL(url);
const connection = {
  host: redis.hostname,
  port: Number(redis.port || 6379),
  db: Number(redis.pathname.slice(1) || 0),
};
const total = Number(jobs);
let completed = 0;

const started = performance.now();
const worker = new Worker(queueName, async () => null, {
  connection,
  prefix,
  concurrency: Number(concurrency),
});
worker.on("completed", () => {
  completed += 1;
  if (completed !== total) return;
  const seconds = (performance.now() - started) / 1000;
  worker.close().then(() => {
    process.stdout.write(`${JSON.stringify({ seconds })}\n`);
    process.exit(0);
  });
});
worker.on("failed", (job, err) => {
  console.error(`job ${job?.id} failed: ${err}`);
  process.exit(1);
});
worker.on("error", (err) => console.error(`worker error: ${err}`));
