#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs the npm dependencies when node_modules is missing or
// older than the lockfile, so a fresh clone needs nothing but these two commands. Uses only Node's own
// modules because it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');

const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs);
if (stale) {
  console.error('Installing npm dependencies (first run)...');
  const command = existsSync(lock) ? 'ci' : 'install';
  const result = spawnSync('npm', [command, '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
    // The CPU build of onnxruntime ships inside the package; its installer would try to download CUDA.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL ?? 'skip' },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
