/**
 * A separate OS process running one event-log consumer, for the multi-process tests
 * (event-log.processes.test.ts). Env: DATABASE_URL, CONSUMER, LABEL, and HANG_AT to hang forever
 * inside the batch at the event whose payload n equals it (the test then kills the process).
 */
import { systemClock } from '../../platform/clock.ts';
import { createTestEventLog, recordHandled, testPing } from './event-log.test-support.ts';

const url = process.env.DATABASE_URL ?? '';
const consumer = process.env.CONSUMER ?? 'processes';
const label = process.env.LABEL ?? String(process.pid);
const hangAt = process.env.HANG_AT ? Number(process.env.HANG_AT) : undefined;

const { log, close } = createTestEventLog({ url, clock: systemClock, applicationName: `olo-${label}` });
log.registerConsumer({
  name: consumer,
  onExhausted: 'stop',
  startFrom: 'now',
  handler: async (event, { tx }) => {
    await recordHandled(tx, consumer, event, label);
    if (hangAt !== undefined && testPing.matches(event) && event.payload.n === hangAt) {
      process.stdout.write(`reached ${hangAt}\n`);
      await new Promise(() => {});
    }
  },
});
await log.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
