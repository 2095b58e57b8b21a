/**
 * Child process for `worker_rss_mb`: one queue-worker-like process (an InferenceProcess child holding the
 * pipeline) runs a few default grids; prints the peak resident set size of the two processes together as JSON.
 */
import { InferenceProcess } from '../src/diffusion/inference-process.js';
import { parsePrompt } from '../src/prompt/parse.js';

const [model = 'models/emoji-ld2', runs = '3'] = process.argv.slice(2);
const worker = await InferenceProcess.start(model);
for (let i = 0; i < Number(runs); i++)
  await worker.run(parsePrompt('a smiling face with a heart'), { seed: i, images: {} });
const engineMb = await worker.peakRssMb();
await worker.close();
console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 + engineMb }));
