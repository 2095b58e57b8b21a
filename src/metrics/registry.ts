import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Metrics of a worker process: what it renders, how long, and how busy it is. */
export function workerMetrics(labels: { worker: string }) {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'latentbot_worker_' });
  return {
    registry,
    jobSeconds: new Histogram({
      name: 'latentbot_job_seconds',
      help: 'Render time of a job in the worker, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    stepSeconds: new Histogram({
      name: 'latentbot_denoise_step_seconds',
      help: 'Time of one denoising step (one batched UNet call plus the scheduler)',
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'latentbot_job_failures_total',
      help: 'Render attempts that failed, by reason (bad-input is not retried)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    busy: new Gauge({
      name: 'latentbot_worker_busy',
      help: '1 while the worker renders a job',
      registers: [registry],
    }),
    busySeconds: new Counter({
      name: 'latentbot_worker_busy_seconds_total',
      help: 'Seconds spent rendering; rate() of it is the utilisation',
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>;

/** Metrics of the bot process: the queue as it sees it and what users are told. */
export function botMetrics(queueCounts: () => Promise<Record<string, number>>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latentbot_bot_' });
  return {
    registry,
    queueDepth: new Gauge({
      name: 'latentbot_queue_jobs',
      help: 'Render jobs in the queue by state (waiting, prioritized, delayed, active)',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const counts = await queueCounts().catch(() => ({}) as Record<string, number>);
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    }),
    interactions: new Counter({
      name: 'latentbot_interactions_total',
      help: 'Interactions handled, by kind and outcome (ok, refused, error)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    firstResponseSeconds: new Histogram({
      name: 'latentbot_first_response_seconds',
      help: 'From the interaction reaching the bot to its first answer',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3],
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'latentbot_deliveries_total',
      help: 'Finished jobs posted, by how (edit of the interaction message, or channel message after 15 min)',
      labelNames: ['via', 'outcome'],
      registers: [registry],
    }),
  };
}

export type BotMetrics = ReturnType<typeof botMetrics>;
