/**
 * A worker process: loads the model once, then renders jobs from the queue one at a time. Started by
 * the supervisor beside the bot, or on its own on any machine that can reach the Redis (`npm run worker`).
 */
import { hostname } from 'node:os';
import { type Job, Worker } from 'bullmq';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { serveMetrics } from '../metrics/http.js';
import { workerMetrics } from '../metrics/registry.js';
import { readModelInfo } from '../model/info.js';
import { bullConnection, connectBlocking, outageLogger, watchConnection } from '../store/connection.js';
import { openStores } from '../store/index.js';
import { createEngineRenderer } from './engine-renderer.js';
import { openQueues, RENDER_QUEUE, type RenderJobData } from './queues.js';
import { createRenderProcessor, onRenderFailed } from './render-processor.js';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, name: `worker-${process.env.WORKER_INDEX ?? '0'}` });
if (!config.REDIS_URL) {
  logger.fatal('REDIS_URL must be set for a worker (npm start sets it for the workers it starts)');
  process.exit(1);
}

// Until the model is loaded there is no job to finish: a signal (or the parent going away) ends at once.
const exitNow = () => process.exit(0);
process.once('SIGINT', exitNow).once('SIGTERM', exitNow).once('disconnect', exitNow);

const redis = watchConnection(
  connectBlocking(config.REDIS_URL, (error) => logger.debug({ err: error }, 'redis connection error')),
  logger,
  'worker',
);
const stores = openStores(redis, config.RESULT_TTL_SECONDS, undefined, config.UPLOAD_TTL_SECONDS);
const connection = bullConnection(config.REDIS_URL);
const queues = openQueues(connection, outageLogger(logger, 'worker queues'));
const started = performance.now();
const renderer = await createEngineRenderer({
  modelDir: config.MODEL_DIR,
  device: config.DEVICE,
  threads: config.ORT_THREADS,
});
logger.info(
  { modelDir: config.MODEL_DIR, device: config.DEVICE, seconds: (performance.now() - started) / 1000 },
  'model loaded',
);
for (const warning of renderer.warnings ?? []) logger.warn({ modelDir: config.MODEL_DIR }, warning);

const workerName = `${hostname()}/${process.pid}`;
const metrics = workerMetrics({ worker: workerName });
const model = readModelInfo(config.MODEL_DIR);
const deps = { ...stores, renderer, delivery: queues.delivery, logger, workerName, metrics, model };
const worker = new Worker<RenderJobData>(RENDER_QUEUE, createRenderProcessor(deps), {
  connection,
  concurrency: 1,
  // A killed worker's job is taken over by another after its lock lapses (stalled-job check).
  lockDuration: config.JOB_LOCK_MS,
  stalledInterval: Math.max(500, Math.round(config.JOB_LOCK_MS / 2)),
  maxStalledCount: 2,
});
worker.on('error', outageLogger(logger, 'render worker'));
worker.on('failed', (job: Job<RenderJobData> | undefined, error) => {
  logger.warn({ jobId: job?.data.jobId, err: error }, 'render failed');
  onRenderFailed(deps, job, error).catch((e) => logger.error({ err: e }, 'could not report a failed job'));
});
// Workers beside a bot on one host take the ports after the bot's (METRICS_PORT + 1 + index).
if (config.METRICS_PORT !== undefined) {
  const index = Number(process.env.WORKER_INDEX ?? 0);
  const port = config.METRICS_PORT === 0 ? 0 : config.METRICS_PORT + 1 + index;
  const served = await serveMetrics(
    port,
    metrics.registry,
    async () => ({
      ok: redis.status === 'ready' && worker.isRunning(),
      redis: redis.status,
      worker: workerName,
    }),
    config.METRICS_HOST,
  );
  logger.info({ port: served.port }, 'metrics at /metrics, health at /healthz');
}
process.send?.({ type: 'ready' });
logger.info('worker ready');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'finishing the current job, then stopping');
  // A job can finish in seconds; a Redis that is gone for good must not keep the process forever.
  setTimeout(() => {
    logger.warn('shutdown timed out; exiting');
    process.exit(1);
  }, 30_000).unref();
  await worker.close();
  await renderer.close();
  await queues.close();
  redis.disconnect();
  process.exit(0);
}
process.off('SIGINT', exitNow).off('SIGTERM', exitNow).off('disconnect', exitNow);
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('disconnect', () => void shutdown('parent gone'));
