/**
 * The sandbox's observable history. Every state change is one JSON-serialisable event with a sequence
 * number, kept in order, emitted on an EventEmitter and replayable from any sequence number, so a test
 * can await it and a web page can mirror the channel from an event stream (see `sandbox-http.ts`).
 */
import { EventEmitter } from 'node:events';
import type { MessageView } from './messages.js';

export type InteractionKind = 'command' | 'button' | 'select' | 'modal';

export interface InteractionView {
  id: string;
  kind: InteractionKind;
  /** Interaction type on the wire: 2 command, 3 component, 5 modal submit. */
  type: number;
  userId: string;
  channelId: string;
  guildId: string;
  /** Command name for commands, custom_id for buttons and modals. */
  name: string;
  /** The message a button sits on (or a modal was opened from). */
  messageId: string | null;
  /** Command options as sent (API JSON); the picked values for a select. */
  options: unknown[];
}

export type SandboxEventBody =
  | { type: 'message.create'; message: MessageView }
  | { type: 'message.update'; message: MessageView }
  | { type: 'message.delete'; message: MessageView }
  | { type: 'interaction.create'; interaction: InteractionView }
  | {
      type: 'interaction.response';
      interactionId: string;
      /** Callback type: 4 reply, 5 defer, 6 deferred update, 7 update, 9 modal. */
      callbackType: number;
      /** Server time from dispatching the interaction to receiving this response. */
      latencyMs: number;
    }
  /** Nobody answered within the deadline: Discord's client shows "This interaction failed". */
  | { type: 'interaction.failed'; interactionId: string; reason: 'no-response' }
  | {
      type: 'modal.open';
      interactionId: string;
      userId: string;
      customId: string;
      title: string;
      /** The modal as the bot sent it (API JSON). */
      modal: Record<string, unknown>;
    }
  | { type: 'commands.update'; guildId: string | null; commands: Record<string, unknown>[] }
  | { type: 'gateway.ready'; sessionId: string }
  | { type: 'gateway.resumed'; sessionId: string }
  | { type: 'gateway.close'; sessionId: string | null; code: number }
  | {
      type: 'api.request';
      method: string;
      path: string;
      /** Route template, e.g. `PATCH /webhooks/:applicationId/:token/messages/:messageId`. */
      route: string;
      status: number;
      durationMs: number;
    }
  /** A 4xx/5xx answer: limit violations, unknown routes, late responses. */
  | {
      type: 'api.error';
      method: string;
      path: string;
      route: string;
      status: number;
      code: number;
      message: string;
    };

export type SandboxEvent = SandboxEventBody & { seq: number; at: string };

export type SandboxEventType = SandboxEvent['type'];

export interface WaitOptions {
  timeoutMs?: number;
  /** Only events with a larger sequence number count; default 0 = the whole history (no race with the bot). */
  after?: number;
}

export class EventLog {
  readonly emitter = new EventEmitter();
  readonly #events: SandboxEvent[] = [];
  #seq = 0;

  constructor(private readonly now: () => number) {
    // Many tests and a page may listen at once.
    this.emitter.setMaxListeners(100);
  }

  push(body: SandboxEventBody): SandboxEvent {
    const event = { ...body, seq: ++this.#seq, at: new Date(this.now()).toISOString() } as SandboxEvent;
    this.#events.push(event);
    this.emitter.emit('event', event);
    this.emitter.emit(event.type, event);
    return event;
  }

  /** The sequence number of the latest event; pass it as `after` to wait only for what comes next. */
  get seq(): number {
    return this.#seq;
  }

  since(after = 0): SandboxEvent[] {
    return this.#events.filter((event) => event.seq > after);
  }

  subscribe(listener: (event: SandboxEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** Resolves with the first event (past or future, see `after`) the predicate accepts. */
  waitFor<E extends SandboxEvent = SandboxEvent>(
    predicate: (event: SandboxEvent) => event is E,
    options?: WaitOptions,
  ): Promise<E>;
  waitFor(predicate: (event: SandboxEvent) => boolean, options?: WaitOptions): Promise<SandboxEvent>;
  waitFor(predicate: (event: SandboxEvent) => boolean, options: WaitOptions = {}): Promise<SandboxEvent> {
    const { timeoutMs = 5000, after = 0 } = options;
    const past = this.#events.find((event) => event.seq > after && predicate(event));
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`sandbox: no matching event within ${timeoutMs} ms (last seq ${this.#seq})`));
      }, timeoutMs);
      const unsubscribe = this.subscribe((event) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      });
    });
  }
}
