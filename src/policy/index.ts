export { type BannedWordMatch, findBannedWords, foldForMatching } from './banned-words.js';
export {
  DEFAULT_CONTEXT,
  evaluatePolicy,
  type PolicyContext,
  type PolicyRule,
  stepsFor,
  type Violation,
} from './evaluate.js';
export { DEFAULT_POLICY, type GuildPolicy, guildPolicySchema } from './guild-policy.js';
