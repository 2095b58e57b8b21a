/** The loopback Discord: a Discord-compatible server for end-to-end tests and the sandbox page. */
export { ErrorCode } from './apiError.js';
export type { StoredAttachment } from './attachments.js';
export { AdjustableClock, type Clock } from './clock.js';
export type { OptionValue, SandboxFile } from './commandOptions.js';
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
export type { AttachmentView, MessageView } from './messages.js';
export { MessageFlag } from './messageValidation.js';
export type { InjectedRateLimit, RateLimitOptions } from './rateLimits.js';
export type { RequestRecord } from './restHandler.js';
export type { SandboxSnapshot } from './sandboxHttp.js';
export { LoopbackDiscord, type LoopbackDiscordOptions, startLoopbackDiscord } from './server.js';
export { DEFAULT_WORLD, type GuildSpec, Permission, type UserSpec, type WorldSpec } from './world.js';
