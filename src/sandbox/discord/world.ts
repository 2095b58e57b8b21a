/**
 * The static part of the sandbox: the bot application, users, guilds, roles, members and text channels.
 * It also renders them as the API objects that READY, GUILD_CREATE and interactions carry.
 */
import type { SnowflakeGenerator } from './snowflake.js';

/** Permission bits the sandbox hands out (Discord's values). */
export const Permission = {
  Administrator: 1n << 3n,
  ManageGuild: 1n << 5n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  UseExternalEmojis: 1n << 18n,
  UseApplicationCommands: 1n << 31n,
  SendMessagesInThreads: 1n << 38n,
} as const;

/** What @everyone may do in a fresh community server. */
const EVERYONE_PERMISSIONS =
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.AddReactions |
  Permission.UseExternalEmojis |
  Permission.UseApplicationCommands |
  Permission.SendMessagesInThreads;

/** Every bit Discord defines today; an Administrator is answered with all of them. */
const ALL_PERMISSIONS = (1n << 51n) - 1n;

export interface UserSpec {
  id?: string;
  username: string;
  globalName?: string;
}

export interface MemberSpec {
  /** A username (or id) from `users`. */
  user: string;
  /** Gives the member the "Moderators" role, which has Manage Guild. */
  manageGuild?: boolean;
}

export interface GuildSpec {
  id?: string;
  name: string;
  channels: { id?: string; name: string }[];
  members: MemberSpec[];
}

export interface ApplicationSpec {
  id?: string;
  token?: string;
  name?: string;
}

export interface WorldSpec {
  application?: ApplicationSpec;
  users?: UserSpec[];
  guilds?: GuildSpec[];
}

export interface SandboxUser {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

export interface SandboxRole {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
}

export interface SandboxChannel {
  id: string;
  guildId: string;
  name: string;
  position: number;
}

export interface SandboxMember {
  userId: string;
  roleIds: string[];
  joinedAt: string;
}

export interface SandboxGuild {
  id: string;
  name: string;
  ownerId: string;
  roles: SandboxRole[];
  members: Map<string, SandboxMember>;
  channels: SandboxChannel[];
}

export interface SandboxApplication {
  id: string;
  token: string;
  name: string;
}

/** The world used when a test does not describe its own: one guild, an admin and two members. */
export const DEFAULT_WORLD: Required<Pick<WorldSpec, 'users' | 'guilds'>> = {
  users: [
    { username: 'ada', globalName: 'Ada (admin)' },
    { username: 'bob', globalName: 'Bob' },
    { username: 'cy', globalName: 'Cy' },
  ],
  guilds: [
    {
      name: 'Latent Sandbox',
      channels: [{ name: 'general' }, { name: 'imagine' }],
      members: [{ user: 'ada', manageGuild: true }, { user: 'bob' }, { user: 'cy' }],
    },
  ],
};

export class World {
  readonly application: SandboxApplication;
  readonly botUser: SandboxUser;
  readonly users = new Map<string, SandboxUser>();
  readonly guilds: SandboxGuild[] = [];

  constructor(spec: WorldSpec, ids: SnowflakeGenerator) {
    const applicationId = spec.application?.id ?? ids.next();
    this.application = {
      id: applicationId,
      token: spec.application?.token ?? makeBotToken(applicationId),
      name: spec.application?.name ?? 'LatentBot',
    };
    // Discord gives a bot user the application's id.
    this.botUser = { id: applicationId, username: this.application.name, globalName: null, bot: true };
    this.users.set(this.botUser.id, this.botUser);

    for (const user of spec.users ?? DEFAULT_WORLD.users) {
      const id = user.id ?? ids.next();
      this.users.set(id, { id, username: user.username, globalName: user.globalName ?? null, bot: false });
    }

    for (const guildSpec of spec.guilds ?? DEFAULT_WORLD.guilds) {
      this.guilds.push(this.#buildGuild(guildSpec, ids));
    }
  }

  #buildGuild(spec: GuildSpec, ids: SnowflakeGenerator): SandboxGuild {
    const id = spec.id ?? ids.next();
    const joinedAt = new Date().toISOString();
    // The @everyone role shares the guild's id, as on Discord.
    const everyone: SandboxRole = { id, name: '@everyone', permissions: EVERYONE_PERMISSIONS, position: 0 };
    const moderators: SandboxRole = {
      id: ids.next(),
      name: 'Moderators',
      permissions: Permission.ManageGuild | Permission.ManageMessages,
      position: 1,
    };
    const botRole: SandboxRole = {
      id: ids.next(),
      name: this.application.name,
      permissions: Permission.SendMessages | Permission.AttachFiles | Permission.EmbedLinks,
      position: 2,
    };
    const members = new Map<string, SandboxMember>();
    members.set(this.botUser.id, { userId: this.botUser.id, roleIds: [botRole.id], joinedAt });
    let ownerId: string | undefined;
    for (const memberSpec of spec.members) {
      const user = this.findUser(memberSpec.user);
      if (!user) throw new Error(`guild ${spec.name}: member ${memberSpec.user} is not among the users`);
      members.set(user.id, {
        userId: user.id,
        roleIds: memberSpec.manageGuild ? [moderators.id] : [],
        joinedAt,
      });
      // The first moderator owns the guild, so ordinary members never get the owner's implicit rights.
      if (memberSpec.manageGuild) ownerId ??= user.id;
    }
    const channels = spec.channels.map((channel, position) => ({
      id: channel.id ?? ids.next(),
      guildId: id,
      name: channel.name,
      position,
    }));
    return {
      id,
      name: spec.name,
      ownerId: ownerId ?? this.botUser.id,
      roles: [everyone, moderators, botRole],
      members,
      channels,
    };
  }

  /** A user by id or username. */
  findUser(idOrName: string): SandboxUser | undefined {
    const byId = this.users.get(idOrName);
    if (byId) return byId;
    for (const user of this.users.values()) if (user.username === idOrName) return user;
    return undefined;
  }

  requireUser(idOrName: string): SandboxUser {
    return found(this.findUser(idOrName), 'user', idOrName);
  }

  findChannel(idOrName: string): SandboxChannel | undefined {
    for (const guild of this.guilds) {
      for (const channel of guild.channels) {
        if (channel.id === idOrName || channel.name === idOrName) return channel;
      }
    }
    return undefined;
  }

  requireChannel(idOrName: string): SandboxChannel {
    return found(this.findChannel(idOrName), 'channel', idOrName);
  }

  findGuild(id: string): SandboxGuild | undefined {
    return this.guilds.find((guild) => guild.id === id);
  }

  requireGuild(id: string): SandboxGuild {
    return found(this.findGuild(id), 'guild', id);
  }

  /** Guild-level permissions of a member: the union of its roles, everything for administrators. */
  permissions(guildId: string, userId: string): bigint {
    const guild = this.requireGuild(guildId);
    const member = guild.members.get(userId);
    if (!member) return 0n;
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    let bits = 0n;
    for (const role of guild.roles) {
      if (role.id === guild.id || member.roleIds.includes(role.id)) bits |= role.permissions;
    }
    return (bits & Permission.Administrator) !== 0n ? ALL_PERMISSIONS : bits;
  }

  apiUser(user: SandboxUser): Record<string, unknown> {
    return {
      id: user.id,
      username: user.username,
      discriminator: '0',
      global_name: user.globalName,
      avatar: null,
      bot: user.bot,
      public_flags: 0,
    };
  }

  apiMember(member: SandboxMember): Record<string, unknown> {
    const user = this.users.get(member.userId);
    if (!user) throw new Error(`member without user: ${member.userId}`);
    return {
      user: this.apiUser(user),
      nick: null,
      avatar: null,
      roles: member.roleIds,
      joined_at: member.joinedAt,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      premium_since: null,
      communication_disabled_until: null,
    };
  }

  apiChannel(channel: SandboxChannel): Record<string, unknown> {
    return {
      id: channel.id,
      type: 0,
      guild_id: channel.guildId,
      name: channel.name,
      position: channel.position,
      permission_overwrites: [],
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      parent_id: null,
      flags: 0,
    };
  }

  apiRole(role: SandboxRole): Record<string, unknown> {
    return {
      id: role.id,
      name: role.name,
      color: 0,
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions.toString(),
      managed: false,
      mentionable: false,
      flags: 0,
    };
  }

  /** The GUILD_CREATE payload: everything discord.js caches before it becomes ready. */
  apiGuildCreate(guild: SandboxGuild): Record<string, unknown> {
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 1,
      explicit_content_filter: 0,
      roles: guild.roles.map((role) => this.apiRole(role)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: guild.channels[0]?.id ?? null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      joined_at: guild.members.get(this.botUser.id)?.joinedAt ?? new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: [...guild.members.values()].map((member) => this.apiMember(member)),
      channels: guild.channels.map((channel) => this.apiChannel(channel)),
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }
}

/** A token shaped like Discord's: base64(application id) . timestamp-ish . secret. */
function makeBotToken(applicationId: string): string {
  const secret = Array.from({ length: 27 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
  return `${Buffer.from(applicationId).toString('base64url')}.sandbx.${secret}`;
}

/** What a `find` gave, or an error naming what was not found. */
function found<T>(value: T | undefined, kind: string, key: string): T {
  if (value === undefined) throw new Error(`unknown sandbox ${kind}: ${key}`);
  return value;
}
