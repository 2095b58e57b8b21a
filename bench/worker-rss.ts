/**
 * Child process for `worker_rss_mb`: one queue-worker-like process (a InferenceThread thread holding the
 * pipeline) runs a few default grids; prints its peak resident set size as JSON.
 */
import { InferenceThread } from '../src/diffusion/inference-thread.js';
import { parsePrompt } from '../src/prompt/parse.js';

const [model = 'models/emoji-ld', runs = '3'] = process.argv.slice(2);
const worker = await InferenceThread.start(model);
for (let i = 0; i < Number(runs); i++)
  await worker.run(parsePrompt('a smiling face with a heart'), { seed: i, images: {} });
await worker.close();
console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }));
