// Prints the workers Node BullMQ sees on the queue (`queue.getWorkers()`, what bull-board shows).
//
// spec: {}
// stdout: one "workers" line {workers: [{name, rawname, addr, age, idle}]}.
import { Queue } from 'bullmq';

import { emit, exitAfter, loadConfig, runMain } from './lib.mjs';

runMain(async () => {
  const { connection, prefix, queueName, spec } = loadConfig();
  exitAfter(spec.timeoutMs ?? 30_000, 'workers');
  const queue = new Queue(queueName, { connection, prefix });
  try {
    const workers = await queue.getWorkers();
    emit('workers', {
      workers: workers.map(({ name, rawname, addr, age, idle }) => ({ name, rawname, addr, age, idle })),
    });
    return 0;
  } finally {
    await queue.close();
  }
});
