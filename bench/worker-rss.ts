/**
 * Child process for `worker_rss_mb`: one queue-worker-like process (a DiffusionWorker thread holding the
 * pipeline) runs a few default grids; prints its peak resident set size as JSON.
 */
import { DiffusionWorker } from '../src/diffusion/worker.js';
import { parsePrompt } from '../src/prompt/parse.js';

const [model = 'models/emoji-ld', runs = '3'] = process.argv.slice(2);
const worker = await DiffusionWorker.start(model);
for (let i = 0; i < Number(runs); i++)
  await worker.run(parsePrompt('a smiling face with a heart'), { seed: i, images: {} });
await worker.close();
console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }));
