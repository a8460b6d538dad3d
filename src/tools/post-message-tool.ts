import { ToolError } from '../errors.js';
import type { Tool } from './types.js';

/**
 * The `post_message` tool of background (cron) sessions: sends a message to
 * the user at `default_delivery_source`. `post` persists and delivers it and
 * returns where it went; it throws when no destination is configured.
 */
export function createPostMessageTool(post: (content: string) => Promise<string>): Tool {
  return {
    name: 'post_message',
    description: 'Send a message to the user (to the configured default destination). Use it to report what this background job found or did.',
    parameters: {
      type: 'object',
      properties: { content: { type: 'string', description: 'The message text' } },
      required: ['content'],
      additionalProperties: false,
    },
    async run(args) {
      const content = args.content;
      if (typeof content !== 'string' || !content.trim()) throw new ToolError('post_message needs "content": a non-empty string');
      return `sent to ${await post(content)}`;
    },
  };
}
