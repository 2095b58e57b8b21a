/** The loopback Discord: a Discord-compatible server for end-to-end tests and the sandbox page. */
export { ErrorCode } from './api-error.js';
export type { StoredAttachment } from './attachments.js';
export { AdjustableClock, type Clock } from './clock.js';
export type { OptionValue, SandboxFile } from './command-options.js';
export type {
  ButtonPress,
  CommandInvocation,
  InteractionHandle,
  ModalSubmission,
  SelectChoice,
} from './driver.js';
export { findComponent, listCustomIds } from './driver.js';
export type { InteractionView, SandboxEvent, SandboxEventType, WaitOptions } from './events.js';
export { CallbackType, type InteractionTiming, InteractionType, type ShownModal } from './interactions.js';
export { DEFAULT_LIMITS, type DiscordLimits } from './limits.js';
export { MessageFlag } from './message-validation.js';
export type { AttachmentView, MessageView } from './messages.js';
export type { InjectedRateLimit, RateLimitOptions } from './rate-limits.js';
export type { RequestRecord } from './rest-handler.js';
export type { SandboxSnapshot } from './sandbox-http.js';
export { LoopbackDiscord, type LoopbackDiscordOptions, startLoopbackDiscord } from './server.js';
export { DEFAULT_WORLD, type GuildSpec, Permission, type UserSpec, type WorldSpec } from './world.js';
