/**
 * `npm start`. Until the bot and the sandbox are wired in, this shows what the project can already do.
 */
import { loadConfig } from './config.js';

const config = loadConfig();
process.stdout.write(
  [
    'latentbot: the prompt language and server policies are in place.',
    `  try: npm run parse -- "北极熊::0.6,白色::-0.5 --ar 3:2"`,
    `  model folder: ${config.MODEL_DIR}`,
    '',
  ].join('\n'),
);
