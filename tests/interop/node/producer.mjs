// Adds one job with Node BullMQ and, if asked, follows it through QueueEvents until it finishes.
//
// spec: {"name": "selftest", "data": {...}, "opts": {...}, "watch": true, "timeoutMs": 60000}
// stdout: "added" {id, name, opts, timestamp, delay}; with watch, one "queue-event" line per
// event on the queue {type, jobId, streamId, args}; finally "finished" {id, type}.
import { Queue, QueueEvents } from 'bullmq';

import { emit, exitAfter, loadConfig, runMain } from './lib.mjs';

// Everything QueueEvents can report about a job; the prefix is unique per test, so all are ours.
const EVENT_TYPES = [
  'added', 'waiting', 'delayed', 'prioritized', 'active', 'progress', 'completed', 'failed',
  'retries-exhausted', 'stalled', 'removed', 'duplicated', 'deduplicated',
];

runMain(async () => {
  const { connection, prefix, queueName, spec } = loadConfig();
  exitAfter(spec.timeoutMs ?? 60_000, 'producer');
  const queue = new Queue(queueName, { connection, prefix });
  let events;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  let jobId;
  const seen = [];
  if (spec.watch) {
    // Read the stream from its start: nothing the job does can slip past before XREAD begins.
    events = new QueueEvents(queueName, { connection, prefix, lastEventId: '0' });
    for (const type of EVENT_TYPES) {
      events.on(type, (args, streamId) => {
        emit('queue-event', { type, jobId: args.jobId, streamId, args });
        seen.push({ type, jobId: args.jobId });
        if (jobId !== undefined && args.jobId === jobId && (type === 'completed' || type === 'failed')) {
          finish(type);
        }
      });
    }
    events.on('error', (err) => emit('queue-events-error', { message: String(err?.message ?? err) }));
    await events.waitUntilReady();
  }
  await queue.waitUntilReady();
  const job = await queue.add(spec.name, spec.data ?? {}, spec.opts ?? {});
  jobId = job.id;
  emit('added', { id: job.id, name: job.name, opts: job.opts, timestamp: job.timestamp, delay: job.delay });
  if (events) {
    const done = seen.find((e) => e.jobId === jobId && (e.type === 'completed' || e.type === 'failed'));
    const type = done ? done.type : await finished;
    emit('finished', { id: jobId, type });
    await events.close();
  }
  await queue.close();
  return 0;
});
