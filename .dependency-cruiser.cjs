/**
 * The import rules of the project, checked by `npm run lint`. The layers, bottom up:
 *   src/model (what a model folder says), src/jobs (job descriptions, weights, ids), src/prompt and
 *   src/policy (the prompt language and the server rules), src/images (pixels), src/store (Redis),
 *   src/queue (the queues and the worker process), src/diffusion (the engine), src/discord and commands/
 *   (the bot), src/sandbox (the loopback Discord server and its page), src/main.ts (composition root).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No module reaches itself again.', from: {}, to: { circular: true } },
    {
      name: 'onnxruntime-only-in-the-engine',
      severity: 'error',
      comment: 'Only the engine backend talks to ONNX Runtime.',
      from: { pathNot: '^src/diffusion/backend\\.ts$' },
      to: { path: 'onnxruntime' },
    },
    {
      name: 'bot-never-imports-the-engine',
      severity: 'error',
      comment: 'The bot judges and queues jobs; workers run them. It reads models through src/model.',
      from: { path: '^(commands|src/discord)/' },
      to: { path: '^src/(diffusion|queue/(engine-renderer|worker-main|render-processor|supervisor))' },
    },
    {
      name: 'worker-never-imports-discord',
      severity: 'error',
      comment: 'Workers never talk to Discord: results go back through the delivery queue.',
      from: { path: '^src/(diffusion|queue)/' },
      to: { path: '^(src/discord|commands)/|node_modules/(discord\\.js|@discordjs)' },
    },
    {
      name: 'discord-does-not-know-the-commands',
      severity: 'error',
      comment: 'Commands and component handlers are given to the router at the composition root.',
      from: { path: '^src/discord/' },
      to: { path: '^commands/' },
    },
    {
      name: 'lower-layers-stay-below',
      severity: 'error',
      comment: 'The model, job and prompt layers know nothing of Redis, queues, the engine or Discord.',
      from: { path: '^src/(model|jobs|prompt|policy)/' },
      to: { path: '^(commands|src/(store|queue|diffusion|discord|sandbox|images))/' },
    },
    {
      name: 'model-is-neutral',
      severity: 'error',
      comment: 'src/model is read by the bot, the policy and the engine alike: it imports none of them.',
      from: { path: '^src/model/' },
      to: { path: '^(commands|src/(?!model/))' },
    },
    {
      name: 'jobs-below-prompt',
      severity: 'error',
      comment: 'The parser builds job descriptions; job descriptions never need the parser.',
      from: { path: '^src/jobs/' },
      to: { path: '^src/(prompt|policy)/' },
    },
    {
      name: 'nothing-imports-the-sandbox',
      severity: 'error',
      comment: 'The loopback Discord server is a tool beside the bot, started only by the composition root.',
      from: { path: '^(commands|src/(?!sandbox/|main\\.ts))' },
      to: { path: '^src/sandbox/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(test|bench|scripts|models)/' },
  },
};
