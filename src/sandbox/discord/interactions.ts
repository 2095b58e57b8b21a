/**
 * Interactions the sandbox has dispatched, with Discord's rules on their life cycle: one initial
 * response, within the initial-response deadline (3 s) measured from dispatch, and a token usable for
 * follow-ups and edits for 15 minutes. Also the source of the "inject → first response" timings.
 */
import { performance } from 'node:perf_hooks';
import { DiscordApiError, ErrorCode } from './api-error.js';
import type { Clock } from './clock.js';
import type { EventLog, InteractionKind, InteractionView } from './events.js';
import type { DiscordLimits } from './limits.js';
import type { ModalInput } from './message-validation.js';
import type { SandboxChannel, SandboxUser } from './world.js';

export const InteractionType = {
  Ping: 1,
  ApplicationCommand: 2,
  MessageComponent: 3,
  Autocomplete: 4,
  ModalSubmit: 5,
} as const;

export const CallbackType = {
  Pong: 1,
  ChannelMessageWithSource: 4,
  DeferredChannelMessageWithSource: 5,
  DeferredUpdateMessage: 6,
  UpdateMessage: 7,
  AutocompleteResult: 8,
  Modal: 9,
} as const;

export interface ShownModal {
  customId: string;
  title: string;
  inputs: ModalInput[];
  layout: 'rows' | 'labels';
  raw: Record<string, unknown>;
  /** The interaction that opened it; a submit carries that interaction's message, if any. */
  interactionId: string;
  userId: string;
  channelId: string;
  sourceMessageId: string | null;
  /** A modal closes once submitted. */
  submitted: boolean;
}

export interface InteractionRecord {
  id: string;
  token: string;
  type: number;
  kind: InteractionKind;
  user: SandboxUser;
  channel: SandboxChannel;
  name: string;
  options: unknown[];
  /** The message of a button press (or of the button that opened a submitted modal). */
  sourceMessageId: string | null;
  /** Clock time of dispatch: the deadlines count from here. */
  createdAt: number;
  /** High-resolution wall time of dispatch, for latency measurements. */
  dispatchedAtMs: number;
  response: { type: number; latencyMs: number } | null;
  /** The message `@original` refers to once answered. */
  originalMessageId: string | null;
  followupIds: string[];
  /** The initial-response deadline passed unanswered; the token is dead. */
  failed: boolean;
  /** Age added by `ageInteraction`, on top of the clock. */
  extraAgeMs: number;
}

export interface InteractionTiming {
  interactionId: string;
  kind: InteractionKind;
  name: string;
  callbackType: number | null;
  /** Dispatch over the gateway → initial response received, in milliseconds; null if never answered. */
  firstResponseMs: number | null;
}

export class InteractionRegistry {
  readonly #byId = new Map<string, InteractionRecord>();
  readonly #byToken = new Map<string, InteractionRecord>();
  readonly #deadlines = new Map<string, NodeJS.Timeout>();
  readonly #modals: ShownModal[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly limits: DiscordLimits,
    private readonly events: EventLog,
  ) {}

  register(record: InteractionRecord, view: InteractionView): void {
    this.#byId.set(record.id, record);
    this.#byToken.set(record.token, record);
    this.events.push({ type: 'interaction.create', interaction: view });
    // A timer only to tell observers (and the page) that the interaction failed; the rule itself is
    // checked against the clock when the response arrives.
    const timer = setTimeout(() => {
      this.#deadlines.delete(record.id);
      if (record.response === null) {
        record.failed = true;
        this.events.push({ type: 'interaction.failed', interactionId: record.id, reason: 'no-response' });
      }
    }, this.limits.initialResponseMs);
    timer.unref();
    this.#deadlines.set(record.id, timer);
  }

  get(id: string): InteractionRecord | undefined {
    return this.#byId.get(id);
  }

  all(): InteractionRecord[] {
    return [...this.#byId.values()];
  }

  ageMs(record: InteractionRecord): number {
    return this.clock.now() - record.createdAt + record.extraAgeMs;
  }

  /** The record behind an initial-response callback, or Discord's refusal. */
  forCallback(id: string, token: string): InteractionRecord {
    const record = this.#byId.get(id);
    if (!record || record.token !== token) throw unknownInteraction();
    if (record.response !== null) {
      throw new DiscordApiError(
        400,
        ErrorCode.InteractionAlreadyAcknowledged,
        'Interaction has already been acknowledged.',
      );
    }
    if (record.failed || this.ageMs(record) > this.limits.initialResponseMs) {
      this.#fail(record);
      throw unknownInteraction();
    }
    return record;
  }

  markResponded(record: InteractionRecord, callbackType: number): number {
    const latencyMs = performance.now() - record.dispatchedAtMs;
    record.response = { type: callbackType, latencyMs };
    clearTimeout(this.#deadlines.get(record.id));
    this.#deadlines.delete(record.id);
    this.events.push({ type: 'interaction.response', interactionId: record.id, callbackType, latencyMs });
    return latencyMs;
  }

  /** The record behind a webhook token, or Discord's refusal (dead, expired or unanswered tokens). */
  forWebhook(applicationId: string, token: string, expectedApplicationId: string): InteractionRecord {
    const record = this.#byToken.get(token);
    if (!record || applicationId !== expectedApplicationId) throw DiscordApiError.unknownWebhook();
    if (record.failed || (record.response === null && this.ageMs(record) > this.limits.initialResponseMs)) {
      this.#fail(record);
      throw DiscordApiError.unknownWebhook();
    }
    if (this.ageMs(record) > this.limits.interactionTokenLifetimeMs) {
      throw new DiscordApiError(401, ErrorCode.InvalidWebhookToken, 'Invalid Webhook Token');
    }
    // Follow-ups and edits need an initial response first.
    if (record.response === null) throw DiscordApiError.unknownWebhook();
    return record;
  }

  rememberModal(modal: ShownModal): void {
    this.#modals.push(modal);
  }

  /** The latest modal with that custom id shown to the user (what their "Submit" refers to). */
  findModal(userId: string, customId: string): ShownModal | undefined {
    for (let i = this.#modals.length - 1; i >= 0; i -= 1) {
      const modal = this.#modals[i];
      if (modal && modal.userId === userId && modal.customId === customId) return modal;
    }
    return undefined;
  }

  modals(): ShownModal[] {
    return [...this.#modals];
  }

  /** Makes one interaction older without moving the clock for everything else. */
  age(id: string, ms: number): void {
    const record = this.#byId.get(id);
    if (!record) throw new Error(`unknown interaction: ${id}`);
    record.extraAgeMs += ms;
  }

  timings(): InteractionTiming[] {
    return this.all().map((record) => ({
      interactionId: record.id,
      kind: record.kind,
      name: record.name,
      callbackType: record.response?.type ?? null,
      firstResponseMs: record.response?.latencyMs ?? null,
    }));
  }

  close(): void {
    for (const timer of this.#deadlines.values()) clearTimeout(timer);
    this.#deadlines.clear();
  }

  #fail(record: InteractionRecord): void {
    if (record.failed) return;
    record.failed = true;
    clearTimeout(this.#deadlines.get(record.id));
    this.#deadlines.delete(record.id);
    this.events.push({ type: 'interaction.failed', interactionId: record.id, reason: 'no-response' });
  }
}

function unknownInteraction(): DiscordApiError {
  return new DiscordApiError(404, ErrorCode.UnknownInteraction, 'Unknown interaction');
}
