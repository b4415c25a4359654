// Prints Node BullMQ's view of one job: `Job.fromId` plus its state and logs.
//
// spec: {"jobId": "..."}
// stdout: one "job" line {id, name, state, attemptsMade, attemptsStarted, failedReason, opts,
// data, returnvalue, progress, timestamp, processedOn, finishedOn, logs, logCount}, or "missing".
import { Job, Queue } from 'bullmq';

import { emit, exitAfter, loadConfig, runMain } from './lib.mjs';

runMain(async () => {
  const { connection, prefix, queueName, spec } = loadConfig();
  exitAfter(spec.timeoutMs ?? 30_000, 'inspect');
  const queue = new Queue(queueName, { connection, prefix });
  try {
    const job = await Job.fromId(queue, spec.jobId);
    if (!job) {
      emit('missing', { id: spec.jobId });
      return 0;
    }
    const { logs, count } = await queue.getJobLogs(spec.jobId);
    emit('job', {
      id: job.id,
      name: job.name,
      state: await job.getState(),
      attemptsMade: job.attemptsMade,
      attemptsStarted: job.attemptsStarted,
      failedReason: job.failedReason,
      opts: job.opts,
      data: job.data,
      returnvalue: job.returnvalue,
      progress: job.progress,
      timestamp: job.timestamp,
      processedOn: job.processedOn,
      finishedOn: job.finishedOn,
      logs,
      logCount: count,
    });
    return 0;
  } finally {
    await queue.close();
  }
});
