/**
 * The Slack channel (DESIGN.md sections 2 and 3; setup in docs/slack.md):
 * Bolt, in Socket Mode or over the HTTP Events API, answering `app_mention`
 * and DMs in the thread of the message.
 */
export { createSlackChannel, SLACK_EVENTS_PATH, type SlackChannel, type SlackChannelOptions, type SlackInboundOutcome } from './slack-adapter.js';
export { classifySlackEvent, normalizeSlackEvent, stripBotMention, type Classified, type IgnoreReason, type SlackMessageContext, type SlackMessageEvent, type SlackSettings } from './normalize.js';
export { EMPTY_REPLY, formatSlackReply, SLACK_ERROR_PREFIX, SLACK_MAX_CHARS, splitSlackText } from './format.js';
export { parseSlackSource, SLACK_SOURCE_PREFIX, slackMessageId, slackSource, type SlackTarget } from './source.js';
export { escapeSlackText, slackToPlainText } from './text.js';
export { HOURGLASS } from './hourglass.js';
