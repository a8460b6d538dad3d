import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeLlm, type FakeLlm } from '../tests/fakes/fake-llm.js';

/**
 * A fake LLM that answers every request after `latencyMs`, and adds up how
 * long those timers really took (Node's timer slack is part of the figures).
 */
export async function startTimedFake(latencyMs: number): Promise<{ fake: FakeLlm; timerMs: () => number }> {
  let timerMs = 0;
  const fake = await startFakeLlm({
    handler: async () => {
      const t = performance.now();
      await sleep(latencyMs);
      timerMs += performance.now() - t;
      return { content: 'ok' };
    },
  });
  return { fake, timerMs: () => timerMs };
}
