// A Node BullMQ worker with a `selftest` handler mirroring the Python one.
//
// spec: {"exitAfter": 1, "concurrency": 1, "name": "optional", "metrics": false, "timeoutMs": 60000}
// With "metrics", it records BullMQ metrics as BlogQueue's throughput figures need (README).
// The handler reads data.sleepMs and data.failAttempts, logs, reports progress 50 then 100 and
// returns {ok: true, by: 'node'}. stdout: "ready", then "active" / "progress" / "completed" /
// "failed" per job, and "closed" once `exitAfter` jobs have finished (completed, or failed for
// good) or on SIGTERM/SIGINT.
import { setTimeout as sleep } from 'node:timers/promises';

import { MetricsTime, UnrecoverableError, Worker } from 'bullmq';

import { emit, errorFields, exitAfter, loadConfig, runMain } from './lib.mjs';

async function selftest(job) {
  const data = job.data ?? {};
  const attempt = job.attemptsMade + 1;
  await job.log(`node selftest attempt ${attempt}`);
  if (attempt <= Number(data.failAttempts ?? 0)) {
    throw new Error(`node selftest failing attempt ${attempt} of ${data.failAttempts}`);
  }
  await job.updateProgress(50);
  const sleepMs = Number(data.sleepMs ?? 0);
  if (sleepMs > 0) {
    await sleep(sleepMs);
  }
  await job.updateProgress(100);
  await job.log(`node selftest done after ${sleepMs} ms`);
  return { ok: true, by: 'node' };
}

async function processor(job) {
  if (job.name !== 'selftest') {
    throw new UnrecoverableError(`node worker has no handler for job name ${job.name}`);
  }
  return selftest(job);
}

runMain(async () => {
  const { connection, prefix, queueName, spec } = loadConfig();
  exitAfter(spec.timeoutMs ?? 60_000, 'worker');
  const worker = new Worker(queueName, processor, {
    connection, prefix, autorun: false, concurrency: spec.concurrency ?? 1,
    ...(spec.name ? { name: spec.name } : {}),
    ...(spec.metrics ? { metrics: { maxDataPoints: MetricsTime.TWO_WEEKS } } : {}),
  });
  const exitAfterJobs = spec.exitAfter ?? 0;
  let finishedJobs = 0;
  let stop;
  const stopped = new Promise((resolve) => { stop = resolve; });
  const countFinished = () => {
    finishedJobs += 1;
    if (exitAfterJobs > 0 && finishedJobs >= exitAfterJobs) {
      stop('done');
    }
  };
  worker.on('active', (job) => emit('active', { id: job.id, attemptsMade: job.attemptsMade }));
  worker.on('progress', (job, progress) => emit('progress', { id: job.id, progress }));
  worker.on('completed', (job, returnvalue) => {
    emit('completed', { id: job.id, returnvalue, attemptsMade: job.attemptsMade });
    countFinished();
  });
  worker.on('failed', (job, err) => {
    const final = job === undefined || job.attemptsMade >= (job.opts.attempts ?? 1)
      || err instanceof UnrecoverableError;
    emit('failed', { id: job?.id, attemptsMade: job?.attemptsMade, final, ...errorFields(err) });
    if (final) {
      countFinished();
    }
  });
  worker.on('error', (err) => emit('worker-error', errorFields(err)));
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => stop(signal));
  }
  await worker.waitUntilReady();
  const running = worker.run();
  emit('ready', { pid: process.pid });
  const reason = await stopped;
  await worker.close();
  await running;
  emit('closed', { reason, finishedJobs });
  return 0;
});
