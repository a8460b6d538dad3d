/**
 * Discord API v10 objects as the real API sends them (users, channels,
 * guilds, messages), for the fake Discord in fake-discord.ts. Shapes follow
 * https://discord.com/developers/docs/resources (the fields discord.js reads,
 * plus the usual ones so the payloads look like the real thing).
 */

/** Discord's epoch (2015-01-01), the base of snowflake timestamps. */
const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;

/** A fresh snowflake: discord.js parses ids as BigInt timestamps, so ids must be real snowflakes. */
export function snowflake(at: number = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

/** A user of the fake. */
export interface FakeUser {
  id: string;
  username: string;
  global_name?: string | null;
  bot?: boolean;
}

/** Channel types the fake knows (discord-api-types ChannelType). */
export const ChannelKind = { GuildText: 0, DM: 1, PublicThread: 11 } as const;

/** A channel of the fake: a guild text channel, a thread in one, or a DM with one user. */
export interface FakeChannel {
  id: string;
  type: (typeof ChannelKind)[keyof typeof ChannelKind];
  name?: string;
  guildId?: string;
  /** For a thread: its parent text channel. */
  parentId?: string;
  /** For a DM: the other person. */
  recipient?: FakeUser;
}

/** A guild of the fake with its channels (threads included). */
export interface FakeGuild {
  id: string;
  name: string;
  channels: FakeChannel[];
}

/** A user object (`APIUser`). */
export function userObject(user: FakeUser): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    global_name: user.global_name ?? null,
    discriminator: '0',
    avatar: null,
    public_flags: 0,
    ...(user.bot && { bot: true }),
  };
}

/** A channel object (`APIChannel`); `withGuildId` false for the copies inside GUILD_CREATE, which omit it. */
export function channelObject(channel: FakeChannel, withGuildId = true): Record<string, unknown> {
  if (channel.type === ChannelKind.DM) {
    return { id: channel.id, type: 1, last_message_id: null, flags: 0, recipients: channel.recipient ? [userObject(channel.recipient)] : [] };
  }
  const base = {
    id: channel.id,
    type: channel.type,
    name: channel.name ?? `channel-${channel.id}`,
    ...(withGuildId && channel.guildId && { guild_id: channel.guildId }),
    flags: 0,
    last_message_id: null,
    rate_limit_per_user: 0,
  };
  if (channel.type === ChannelKind.PublicThread) {
    return {
      ...base,
      parent_id: channel.parentId ?? null,
      owner_id: '0',
      message_count: 0,
      member_count: 1,
      total_message_sent: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
    };
  }
  return { ...base, position: 0, permission_overwrites: [], parent_id: null, topic: null, nsfw: false };
}

/** The GUILD_CREATE payload of a guild: available, with its channels and threads, the bot as its one member. */
export function guildCreateObject(guild: FakeGuild, bot: FakeUser): Record<string, unknown> {
  const channels = guild.channels.filter((c) => c.type !== ChannelKind.PublicThread);
  const threads = guild.channels.filter((c) => c.type === ChannelKind.PublicThread);
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    owner_id: '1',
    unavailable: false,
    large: false,
    member_count: 2,
    joined_at: new Date().toISOString(),
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    mfa_level: 0,
    premium_tier: 0,
    preferred_locale: 'en-US',
    system_channel_id: null,
    features: [],
    roles: [{ id: guild.id, name: '@everyone', permissions: '1071698660929', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
    emojis: [],
    stickers: [],
    channels: channels.map((c) => channelObject(c, false)),
    threads: threads.map((c) => channelObject(c, true)),
    members: [{ user: userObject(bot), roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 }],
    presences: [],
    voice_states: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

/** What {@link messageObject} needs. */
export interface MessageSpec {
  id?: string;
  channel: FakeChannel;
  author: FakeUser;
  content: string;
  mentions?: FakeUser[];
  /** The message this one replies to. */
  reference?: { message_id: string; channel_id?: string; guild_id?: string };
  /** Whether to add `channel_type`, as MESSAGE_CREATE dispatches do. */
  dispatch?: boolean;
}

/** A message object (`APIMessage`), or the `d` of a MESSAGE_CREATE dispatch with `dispatch: true`. */
export function messageObject(spec: MessageSpec): Record<string, unknown> {
  const guildId = spec.channel.guildId;
  const now = new Date().toISOString();
  return {
    id: spec.id ?? snowflake(),
    type: spec.reference ? 19 : 0,
    channel_id: spec.channel.id,
    ...(guildId && { guild_id: guildId }),
    ...(spec.dispatch && { channel_type: spec.channel.type }),
    author: userObject(spec.author),
    ...(guildId && spec.dispatch && { member: { roles: [], joined_at: now, deaf: false, mute: false, flags: 0 } }),
    content: spec.content,
    timestamp: now,
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: (spec.mentions ?? []).map(userObject),
    mention_roles: [],
    attachments: [],
    embeds: [],
    components: [],
    pinned: false,
    flags: 0,
    ...(spec.reference && {
      message_reference: { type: 0, message_id: spec.reference.message_id, channel_id: spec.reference.channel_id ?? spec.channel.id, ...(guildId && { guild_id: guildId }) },
    }),
  };
}
