/**
 * The fake LLM in a child process (so its CPU is not charged to the runtime
 * under test): answers every chat completion with "ok" after exactly L ms.
 * Started by lib.ts with `fork`; talks to the parent over IPC:
 * sends `{ baseURL }` once listening, answers 'stats' with {@link FakeStats},
 * and closes on 'close'.
 */
import { startTimedFake } from './timed-fake.js';

/** What the parent can ask of the child fake. */
export interface FakeStats {
  requests: number;
  maxInFlight: number;
  /** Sum of the real durations of the L-ms timers. */
  timerMs: number;
}

const latencyMs = Number(process.argv[2]);
if (!Number.isFinite(latencyMs) || !process.send) throw new Error('usage: fork fake-server.ts <latency ms> (with an IPC channel)');
const { fake, timerMs } = await startTimedFake(latencyMs);
process.on('message', (message) => {
  if (message === 'stats') {
    const stats: FakeStats = { requests: fake.totalRequests(), maxInFlight: fake.maxInFlight(), timerMs: timerMs() };
    process.send?.(stats);
  } else if (message === 'close') {
    void fake.close().finally(() => process.disconnect());
  }
});
process.send({ baseURL: fake.baseURL });
