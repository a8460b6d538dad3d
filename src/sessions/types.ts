import type { ChatMessage } from '../llm/types.js';

/** One line of a session's JSONL history: a chat message plus when it was written. */
export type HistoryEntry = ChatMessage & {
  ts: string;
  /** `summary` marks the system message that replaces compacted turns. */
  kind?: 'summary';
};

/** What the index knows about a session. */
export interface SessionInfo {
  id: string;
  /** The source this session answers (for child sessions, `agent:<parent>`). */
  source: string;
  /** The agent this session talks to; fixed for the session's life. */
  agentId: string;
  createdAt: string;
  /** The session this one continues (after /compact), if any. */
  previous?: string;
  /** Parent session of a dispatched child session. */
  parent?: string;
}

/**
 * Where conversations live. The in-process default is {@link JsonlSessionStore}
 * (files under `.history/`); a shared backend can implement the same methods.
 */
export interface SessionStore {
  /** The session currently bound to `source`, if any. */
  current(source: string): Promise<SessionInfo | null>;
  /** Looks a session up by id. */
  get(id: string): Promise<SessionInfo | null>;
  /**
   * Creates a session. When `bind` is true (the default) it becomes the
   * source's current session (a child session of a dispatch is not bound).
   * `seed` entries start its history (a compaction summary and recent turns).
   */
  create(options: { source: string; agentId: string; previous?: string; parent?: string; bind?: boolean; seed?: HistoryEntry[] }): Promise<SessionInfo>;
  /** Appends entries to a session's history, in order, in one write. */
  append(id: string, entries: HistoryEntry[]): Promise<void>;
  /** Reads a session's history; a torn last line from a crash is skipped. */
  load(id: string): Promise<HistoryEntry[]>;
  /** Where the history is kept, for /session (a path, or a URL for remote stores). */
  locationOf(id: string): string;
}
