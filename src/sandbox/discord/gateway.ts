/**
 * The gateway: a `ws` endpoint speaking Discord's JSON gateway protocol (no compression). It performs
 * HELLO → IDENTIFY → READY + GUILD_CREATE, answers heartbeats, numbers dispatches, keeps recent dispatches
 * per session so a RESUME can replay them, and delivers INTERACTION_CREATE and message events.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { EventLog } from './events.js';
import type { World } from './world.js';

const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  Resume: 6,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

const Close = {
  UnknownOpcode: 4001,
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
};

/** The intent bit that gates MESSAGE_CREATE/UPDATE/DELETE in guilds. */
export const GUILD_MESSAGES_INTENT = 1 << 9;

/** Dispatches a session keeps for RESUME; more than a test run produces between reconnects. */
const REPLAY_BUFFER = 1000;

interface Session {
  id: string;
  intents: number;
  seq: number;
  buffer: { s: number; t: string; d: unknown }[];
  socket: WebSocket | null;
}

export interface GatewayOptions {
  world: World;
  events: EventLog;
  heartbeatIntervalMs: number;
  /** The address READY announces for resuming (the server's own gateway URL). */
  url: () => string;
  log: (line: string) => void;
}

export class Gateway {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #sessions = new Map<string, Session>();

  constructor(private readonly options: GatewayOptions) {
    this.#wss.on('connection', (socket) => this.#onConnection(socket));
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const query = new URL(request.url ?? '/', 'ws://sandbox.invalid').searchParams;
    const encoding = query.get('encoding') ?? 'json';
    const compress = query.get('compress');
    if (encoding !== 'json' || compress !== null) {
      // discord.js asks for zlib-stream only when the optional zlib-sync package is installed.
      this.options.log(
        `sandbox discord: gateway refused encoding=${encoding} compress=${compress ?? 'none'}; ` +
          'it speaks uncompressed JSON only (uninstall zlib-sync / erlpack)',
      );
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#wss.emit('connection', ws, request));
  }

  /** Sessions whose socket is open and identified: the bots that would receive an interaction now. */
  connectedSessions(): number {
    return [...this.#sessions.values()].filter((s) => s.socket !== null).length;
  }

  /** Sends a dispatch to every connected session (optionally only to those that asked for `intent`). */
  dispatch(t: string, d: unknown, intent?: number): number {
    let delivered = 0;
    for (const session of this.#sessions.values()) {
      if (intent !== undefined && (session.intents & intent) === 0) continue;
      this.#send(session, t, d);
      if (session.socket) delivered += 1;
    }
    return delivered;
  }

  /** Closes every socket but keeps the sessions, so clients can RESUME (tests of reconnect handling). */
  dropConnections(code = 4000): void {
    for (const session of this.#sessions.values())
      session.socket?.close(code, 'sandbox dropped the connection');
  }

  close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  #onConnection(socket: WebSocket): void {
    let session: Session | null = null;
    socket.send(
      JSON.stringify({
        op: Op.Hello,
        d: { heartbeat_interval: this.options.heartbeatIntervalMs },
        s: null,
        t: null,
      }),
    );
    socket.on('message', (raw) => {
      let packet: { op?: unknown; d?: unknown };
      try {
        packet = JSON.parse(raw.toString());
      } catch {
        socket.close(Close.DecodeError, 'Decode error');
        return;
      }
      switch (packet.op) {
        case Op.Heartbeat:
          socket.send(JSON.stringify({ op: Op.HeartbeatAck, d: null, s: null, t: null }));
          return;
        case Op.Identify:
          if (session) {
            socket.close(Close.AlreadyAuthenticated, 'Already authenticated');
            return;
          }
          session = this.#identify(socket, packet.d);
          return;
        case Op.Resume:
          session = this.#resume(socket, packet.d);
          return;
        case Op.PresenceUpdate:
          return;
        case Op.RequestGuildMembers:
          if (!session) socket.close(Close.NotAuthenticated, 'Not authenticated');
          else this.#sendMembers(session, packet.d);
          return;
        default:
          this.options.log(`gateway: unknown opcode ${String(packet.op)}`);
          socket.close(Close.UnknownOpcode, 'Unknown opcode');
      }
    });
    socket.on('close', (code) => {
      if (session?.socket === socket) session.socket = null;
      this.options.events.push({ type: 'gateway.close', sessionId: session?.id ?? null, code });
    });
  }

  #tokenMatches(d: unknown): d is Record<string, unknown> {
    if (typeof d !== 'object' || d === null) return false;
    const token = (d as Record<string, unknown>)['token'];
    return typeof token === 'string' && token.replace(/^Bot /, '') === this.options.world.application.token;
  }

  #identify(socket: WebSocket, d: unknown): Session | null {
    if (!this.#tokenMatches(d)) {
      socket.close(Close.AuthenticationFailed, 'Authentication failed.');
      return null;
    }
    const intents = typeof d['intents'] === 'number' ? d['intents'] : 0;
    const session: Session = { id: randomBytes(16).toString('hex'), intents, seq: 0, buffer: [], socket };
    this.#sessions.set(session.id, session);
    const { world } = this.options;
    this.#send(session, 'READY', {
      v: 10,
      user: { ...world.apiUser(world.botUser), verified: true, mfa_enabled: false, flags: 0 },
      guilds: world.guilds.map((guild) => ({ id: guild.id, unavailable: true })),
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.options.url(),
      shard: [0, 1],
      application: { id: world.application.id, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      user_settings: {},
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
    });
    for (const guild of world.guilds) this.#send(session, 'GUILD_CREATE', world.apiGuildCreate(guild));
    this.options.events.push({ type: 'gateway.ready', sessionId: session.id });
    return session;
  }

  #resume(socket: WebSocket, d: unknown): Session | null {
    const sessionId =
      typeof d === 'object' && d !== null ? (d as Record<string, unknown>)['session_id'] : undefined;
    const session = typeof sessionId === 'string' ? this.#sessions.get(sessionId) : undefined;
    if (!this.#tokenMatches(d) || !session) {
      // d: false tells the client to identify afresh.
      socket.send(JSON.stringify({ op: Op.InvalidSession, d: false, s: null, t: null }));
      return null;
    }
    const lastSeq = typeof d['seq'] === 'number' ? d['seq'] : 0;
    session.socket?.terminate();
    session.socket = socket;
    for (const packet of session.buffer) {
      if (packet.s > lastSeq) socket.send(JSON.stringify({ op: Op.Dispatch, ...packet }));
    }
    this.#send(session, 'RESUMED', null);
    this.options.events.push({ type: 'gateway.resumed', sessionId: session.id });
    return session;
  }

  #sendMembers(session: Session, d: unknown): void {
    const request = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
    const guild = this.options.world.findGuild(String(request['guild_id']));
    if (!guild) return;
    this.#send(session, 'GUILD_MEMBERS_CHUNK', {
      guild_id: guild.id,
      members: [...guild.members.values()].map((member) => this.options.world.apiMember(member)),
      chunk_index: 0,
      chunk_count: 1,
      not_found: [],
      nonce: request['nonce'],
    });
  }

  /** Numbers and buffers the dispatch; sends it now if the session is connected, else on RESUME. */
  #send(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    const packet = { s: session.seq, t, d };
    session.buffer.push(packet);
    if (session.buffer.length > REPLAY_BUFFER) session.buffer.shift();
    session.socket?.send(JSON.stringify({ op: Op.Dispatch, ...packet }));
  }
}
