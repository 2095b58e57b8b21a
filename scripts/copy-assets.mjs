// After `tsc -p tsconfig.build.json`: copies what the compiled code serves as files (the sandbox page).
import { cpSync, existsSync } from 'node:fs';

const from = 'src/sandbox/web/public';
if (existsSync(from)) cpSync(from, 'dist/src/sandbox/web/public', { recursive: true });
