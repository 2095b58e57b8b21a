/**
 * `npm run parse -- "<prompt>"`: the job description as JSON on stdout, with the violations of the
 * default server policy. Exit 0 accepted, 2 malformed (message on stderr), 3 refused by the policy.
 */
import { DEFAULT_POLICY, evaluatePolicy } from '../src/policy/index.js';
import { PromptError, parseImagine } from '../src/prompt/index.js';

const EXIT_MALFORMED = 2;
const EXIT_REFUSED = 3;

const args = process.argv.slice(2);
if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
  process.stderr.write('usage: npm run parse -- "<prompt>"\n');
  process.exit(args.length === 0 ? EXIT_MALFORMED : 0);
}

try {
  const jobs = parseImagine(args.join(' '));
  const jobCount = jobs.length * (jobs[0]?.params.repeat ?? 1);
  const judged = jobs.map((job) => ({
    ...job,
    violations: evaluatePolicy(job, DEFAULT_POLICY, { jobCount }),
  }));
  const refused = judged.some((job) => job.violations.length > 0);
  const output =
    judged.length === 1 ? judged[0] : { jobs: judged, violations: judged.flatMap((j) => j.violations) };
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  process.exitCode = refused ? EXIT_REFUSED : 0;
} catch (error) {
  if (!(error instanceof PromptError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = EXIT_MALFORMED;
}
