/**
 * Tests for the fake chat-completions server, driven through the real `openai` SDK.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import OpenAI from 'openai';
import { startFakeLlm } from './fakes/fake-llm.js';
import type { FakeLlm, FakeLlmOptions, FakeRequest } from './fakes/fake-llm.js';

async function setup(t: TestContext, options?: FakeLlmOptions): Promise<{ fake: FakeLlm; client: OpenAI }> {
  const fake = await startFakeLlm(options);
  t.after(() => fake.close());
  const client = new OpenAI({ apiKey: 'test', baseURL: fake.baseURL, maxRetries: 0 });
  return { fake, client };
}

function ask(client: OpenAI, text: string, opts: { model?: string; system?: string; signal?: AbortSignal } = {}) {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [];
  if (opts.system !== undefined) messages.push({ role: 'system', content: opts.system });
  messages.push({ role: 'user', content: text });
  return client.chat.completions.create({ model: opts.model ?? 'fake-model', messages }, opts.signal ? { signal: opts.signal } : undefined);
}

describe('fake-llm with the real openai SDK', () => {
  it('answers with plain content and records the request', async (t) => {
    const { fake, client } = await setup(t);
    const seen: FakeRequest[] = [];
    fake.setHandler((req) => {
      seen.push(req);
      return { content: `echo: ${req.lastUserMessage}` };
    });

    const res = await client.chat.completions.create({
      model: 'fake-model',
      temperature: 0.2,
      max_tokens: 50,
      messages: [
        { role: 'system', content: 'You are Brine.' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'hello ' }, { type: 'text', text: 'there' }] },
      ],
    });

    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, 'fake-model');
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(typeof res.created, 'number');
    const choice = res.choices[0];
    assert.ok(choice);
    assert.equal(choice.index, 0);
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.content, 'echo: hello there');
    assert.equal(choice.message.tool_calls, undefined);
    assert.ok(res.usage);
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
    assert.equal(res._request_id, 'req_fake_0');

    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.systemPrompt, 'You are Brine.');
    assert.equal(seen[0]?.lastMessage?.role, 'user');
    assert.deepEqual(seen[0]?.toolResults, []);

    assert.equal(fake.requests.length, 1);
    const rec = fake.requests[0];
    assert.ok(rec);
    assert.equal(rec.body.model, 'fake-model');
    assert.equal(rec.body.temperature, 0.2);
    assert.equal(rec.body.max_tokens, 50);
    assert.equal(rec.body.messages.length, 4);
    assert.equal(rec.headers.authorization, 'Bearer test');
    assert.equal(typeof rec.receivedAt, 'number');
    assert.equal(fake.totalRequests(), 1);
    assert.equal(fake.totalRequests('fake-model'), 1);
    assert.equal(fake.inFlight(), 0);
  });

  it('uses the default handler (content "ok")', async (t) => {
    const { client } = await setup(t);
    const res = await ask(client, 'hi');
    assert.equal(res.choices[0]?.message.content, 'ok');
  });

  it('round-trips a tool call with the exact arguments string', async (t) => {
    const { fake, client } = await setup(t);
    const args = { city: 'Paris', days: 2, units: 'metric' };
    fake.setHandler((req) => {
      if (req.toolResults.length > 0) {
        const r = req.toolResults[0];
        return { content: `tool ${r?.toolCallId} said ${r?.content}` };
      }
      return { toolCalls: [{ name: 'get_weather', arguments: args }] };
    });

    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await client.chat.completions.create({ model: 'fake-model', messages, tools });
    const choice = first.choices[0];
    assert.ok(choice);
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const calls = choice.message.tool_calls;
    assert.ok(calls);
    assert.equal(calls.length, 1);
    const call = calls[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(call.function.arguments, JSON.stringify(args));
    assert.match(call.id, /^call_fake_/);
    assert.equal(fake.requests[0]?.body.tools?.[0]?.function.name, 'get_weather');

    messages.push(choice.message);
    messages.push({ role: 'tool', tool_call_id: call.id, content: '21C sunny' });
    const second = await client.chat.completions.create({ model: 'fake-model', messages, tools });
    assert.equal(second.choices[0]?.message.content, `tool ${call.id} said 21C sunny`);
    assert.equal(second.choices[0]?.finish_reason, 'stop');
  });

  it('returns content alongside tool calls and honours explicit ids', async (t) => {
    const { fake, client } = await setup(t);
    fake.enqueue({
      content: 'Let me check.',
      toolCalls: [
        { id: 'call_a', name: 'one', arguments: '{}' },
        { id: 'call_b', name: 'two', arguments: { x: [1, 2] } },
      ],
    });
    const res = await ask(client, 'go');
    const msg = res.choices[0]?.message;
    assert.equal(msg?.content, 'Let me check.');
    assert.deepEqual(
      msg?.tool_calls?.map((c) => (c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : [])),
      [
        ['call_a', 'one', '{}'],
        ['call_b', 'two', '{"x":[1,2]}'],
      ],
    );
  });

  it('passes malformed tool arguments through verbatim', async (t) => {
    const { fake, client } = await setup(t);
    const broken = '{"city": "Par';
    fake.setHandler(() => ({ toolCalls: [{ name: 'get_weather', arguments: broken }] }));
    const res = await ask(client, 'weather?');
    const call = res.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.arguments, broken);
    assert.throws(() => JSON.parse(call.function.arguments), SyntaxError);
  });

  it('surfaces a 429 as OpenAI.RateLimitError (no retries)', async (t) => {
    const { fake, client } = await setup(t);
    fake.setHandler(() => ({
      error: { status: 429, message: 'Slow down', code: 'rate_limit_exceeded', headers: { 'retry-after': '7' } },
    }));
    await assert.rejects(ask(client, 'hi'), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `expected RateLimitError, got ${String(err)}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'rate_limit_exceeded');
      assert.equal(err.type, 'rate_limit_error');
      assert.match(err.message, /Slow down/);
      assert.equal(err.headers?.get('retry-after'), '7');
      return true;
    });
    assert.equal(fake.totalRequests(), 1);
    assert.equal(fake.inFlight(), 0);
  });

  it('maps other statuses to the matching SDK errors', async (t) => {
    const { fake, client } = await setup(t);
    fake.enqueue(
      { error: { status: 500, message: 'boom' } },
      { error: { status: 401, message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } },
    );
    await assert.rejects(ask(client, 'a'), OpenAI.InternalServerError);
    await assert.rejects(ask(client, 'b'), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_api_key');
  });

  it('rejects stream: true with a 400 OpenAI-style error', async (t) => {
    const { fake, client } = await setup(t);
    await assert.rejects(
      client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'x' }], stream: true }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && /stream/.test(err.message),
    );
    assert.equal(fake.requests[0]?.body.stream, true);
    assert.equal(fake.inFlight(), 0);
  });

  it('serves GET /v1/models', async (t) => {
    const { client } = await setup(t, { models: ['m1', 'm2'] });
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['m1', 'm2']);
    assert.equal((await client.models.retrieve('m2')).id, 'm2');
    await assert.rejects(client.models.retrieve('nope'), OpenAI.NotFoundError);
  });

  it('consumes enqueued replies before calling the handler', async (t) => {
    const { fake, client } = await setup(t);
    fake.setHandler(() => ({ content: 'from handler' }));
    fake.enqueue({ content: 'q1' }, { content: 'q2' });
    assert.equal(fake.queuedReplies, 2);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await ask(client, `${i}`)).choices[0]?.message.content);
    assert.deepEqual(got, ['q1', 'q2', 'from handler']);
    assert.equal(fake.queuedReplies, 0);
  });

  it('reports invalid handler replies and thrown errors as 500 + handlerErrors', async (t) => {
    const { fake, client } = await setup(t);
    fake.setHandler(() => ({ nonsense: true }) as never);
    await assert.rejects(ask(client, 'a'), OpenAI.InternalServerError);
    fake.setHandler(() => {
      throw new Error('kaput');
    });
    await assert.rejects(ask(client, 'b'), (err: unknown) => err instanceof OpenAI.InternalServerError && /kaput/.test(err.message));
    assert.equal(fake.handlerErrors.length, 2);
    assert.equal(fake.inFlight(), 0);
  });

  it('holds requests and counts two concurrent SDK calls in flight', async (t) => {
    const { fake, client } = await setup(t);
    fake.holdRequests = true;
    fake.setHandler((req) => ({ content: `re: ${req.lastUserMessage}` }));

    const p1 = ask(client, 'one');
    const p2 = ask(client, 'two');
    await fake.waitForPending(2);
    assert.equal(fake.pending(), 2);
    assert.equal(fake.inFlight('fake-model'), 2);
    assert.equal(fake.maxInFlight('fake-model'), 2);
    assert.equal(fake.totalRequests('fake-model'), 2);

    assert.equal(fake.releaseNext(), true);
    await fake.waitUntil(() => fake.inFlight('fake-model') === 1);
    assert.equal(fake.pending(), 1);

    assert.equal(fake.releaseAll(), 1);
    const [r1, r2] = await Promise.all([p1, p2]);
    assert.deepEqual([r1.choices[0]?.message.content, r2.choices[0]?.message.content].sort(), ['re: one', 're: two']);
    assert.equal(fake.inFlight(), 0);
    assert.equal(fake.maxInFlight('fake-model'), 2);
    assert.equal(fake.releaseNext(), false);
  });

  it('lets a test prove per-key serialisation (classify + settle)', async (t) => {
    const { fake, client } = await setup(t);
    fake.classify = (req) => req.systemPrompt; // key = agent, identified by its system prompt
    const open = fake.gate();

    // A toy "agent" that serialises its own turns, as the real one should.
    let chain: Promise<unknown> = Promise.resolve();
    const turn = (text: string) => {
      const next = chain.then(() => ask(client, text, { system: 'agent-A' }));
      chain = next.catch(() => undefined);
      return next;
    };
    const t1 = turn('first');
    const t2 = turn('second');
    const other = ask(client, 'parallel', { system: 'agent-B' });

    await fake.waitForPending(1, 5000, 'agent-A');
    await fake.waitForPending(1, 5000, 'agent-B');
    await fake.settle();
    assert.equal(fake.totalRequests('agent-A'), 1, 'second turn must wait for the first');
    assert.equal(fake.inFlight('agent-B'), 1);

    assert.equal(fake.releaseNext('agent-A'), true);
    await t1;
    await fake.waitForPending(1, 5000, 'agent-A');
    assert.equal(fake.requestsFor('agent-A')[1]?.body.messages.at(-1)?.content, 'second');
    open();
    await Promise.all([t2, other]);
    assert.equal(fake.maxInFlight('agent-A'), 1);
    assert.equal(fake.maxInFlight('agent-B'), 1);
    assert.equal(fake.maxInFlight(), 2);
  });

  it('rejects waitForPending with a clear message on timeout', async (t) => {
    const { fake } = await setup(t);
    await assert.rejects(fake.waitForPending(1, 50), /timed out after 50ms waiting for 1 parked request\(s\).*parked 0/);
  });

  it('decrements inFlight when a parked request is aborted', async (t) => {
    const { fake, client } = await setup(t);
    fake.holdRequests = true;
    fake.enqueue({ content: 'for the survivor' });
    const ac = new AbortController();
    const aborted = ask(client, 'abort me', { signal: ac.signal });
    await fake.waitForPending(1);
    assert.equal(fake.inFlight('fake-model'), 1);

    ac.abort();
    await assert.rejects(aborted, OpenAI.APIUserAbortError);
    await fake.waitForIdle(2000);
    assert.equal(fake.inFlight('fake-model'), 0);
    assert.equal(fake.pending(), 0);
    assert.equal(fake.queuedReplies, 1, 'an aborted parked request consumes no queued reply');

    const survivor = ask(client, 'keep me');
    await fake.waitForPending(1);
    fake.releaseAll();
    assert.equal((await survivor).choices[0]?.message.content, 'for the survivor');
    assert.equal(fake.maxInFlight('fake-model'), 1);
  });

  it('decrements inFlight when a hanging request is aborted', async (t) => {
    const { fake, client } = await setup(t);
    fake.setHandler(() => ({ hang: true }));
    const ac = new AbortController();
    const p = ask(client, 'hang', { signal: ac.signal });
    await fake.waitForRequests(1);
    await fake.settle();
    assert.equal(fake.inFlight(), 1);
    ac.abort();
    await assert.rejects(p, OpenAI.APIUserAbortError);
    await fake.waitForIdle(2000);
    assert.equal(fake.inFlight('fake-model'), 0);
  });

  it('close() drops parked requests so clients fail instead of hanging', async () => {
    const fake = await startFakeLlm({ holdRequests: true });
    const client = new OpenAI({ apiKey: 'test', baseURL: fake.baseURL, maxRetries: 0 });
    const p = ask(client, 'stuck');
    await fake.waitForPending(1);
    await fake.close();
    await assert.rejects(p, OpenAI.APIConnectionError);
    assert.equal(fake.inFlight(), 0);
    await fake.close(); // idempotent
  });
});
