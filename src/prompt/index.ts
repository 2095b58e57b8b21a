export { MAX_GUIDANCE_MASS, normalizeWeights } from '../jobs/weights.js';
export { PromptError, type PromptErrorCode } from './errors.js';
export { DEFAULT_PARAMS, PARAMETERS, QUALITY_VALUES } from './parameters.js';
export { MAX_PROMPT_LENGTH, NO_WEIGHT, parseImagine, parsePrompt } from './parse.js';
export { DEFAULT_MAX_PERMUTATIONS, expandPermutations } from './permutations.js';
