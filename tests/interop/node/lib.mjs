// Shared plumbing for the interop scripts driven by tests/interop/test_node.py.
//
// Every script reads its connection from the environment (BQ_REDIS_URL, BQ_PREFIX, optional
// BQ_QUEUE) and a JSON spec from argv[2], and writes one JSON object per line to stdout:
// {"event": "...", "t": <epoch ms>, ...}. Anything on stderr is diagnostics only.

export const QUEUE_NAME = process.env.BQ_QUEUE || 'blog-generation';

export function loadConfig() {
  const redisUrl = process.env.BQ_REDIS_URL;
  const prefix = process.env.BQ_PREFIX;
  if (!redisUrl || !prefix) {
    throw new Error('BQ_REDIS_URL and BQ_PREFIX must be set');
  }
  const spec = JSON.parse(process.argv[2] || '{}');
  // maxRetriesPerRequest: null is what BullMQ requires for blocking connections.
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  return { connection, prefix, queueName: QUEUE_NAME, spec };
}

export function emit(event, fields = {}) {
  // Writes to a pipe are synchronous on Linux, so nothing is lost on exit.
  process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);
}

export function errorFields(err) {
  return { name: err?.name, message: err?.message ?? String(err) };
}

/** Exit with code 3 (after an `timeout` line) if the script is still running after `ms`. */
export function exitAfter(ms, what) {
  const timer = setTimeout(() => {
    emit('timeout', { what, ms });
    process.exit(3);
  }, ms);
  timer.unref();
  return timer;
}

/** Run `main`, report an uncaught error as an `error` line with exit code 1, then exit. */
export function runMain(main) {
  main().then(
    (code) => process.exit(code ?? 0),
    (err) => {
      emit('error', errorFields(err));
      process.stderr.write(`${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
