import type { EventThroughputResult } from './events.ts';
import type { FanoutResult } from './fanout.ts';

const number = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';

function table(header: string[], align: Array<'l' | 'r'>, rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const pad = (cell: string, i: number) =>
    align[i] === 'r' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0);
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The event log and fan-out sections of the benchmark report (Markdown). */
export function realtimeReport(events: EventThroughputResult[], fanout: FanoutResult[]): string {
  const eventsTable = table(
    ['consumers', 'events', 'emitted/s', 'handled/s (all consumers)', 'emit → all handled (s)', 'duplicates'],
    ['l', 'r', 'r', 'r', 'r', 'r'],
    events.map((e) => [
      e.name,
      number(e.events),
      number(e.emittedPerSecond),
      number(e.handledPerSecond),
      number(e.totalSeconds, 2),
      number(e.duplicates),
    ]),
  );
  const fanoutTable = table(
    ['fan-out', 'subscribers', 'rounds', 'deliveries', 'missing', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    fanout.map((f) => [
      f.name,
      number(f.subscribers),
      number(f.rounds),
      number(f.deliveries),
      number(f.missing),
      number(f.p50Ms, 1),
      number(f.p99Ms, 1),
      number(f.maxMs, 1),
    ]),
  );
  return [
    '## Event log: emit → consumer',
    '',
    'Events emitted by 8 concurrent writers in transactions of 10, through the commit-ordered outbox, handled by durable consumers woken by LISTEN/NOTIFY (each consumer sees every event).',
    '',
    eventsTable,
    '',
    '## Subscription fan-out',
    '',
    'One announcement per round, published over HTTP by an admin and delivered to every subscriber on one node through the pubsub backend; latency from sending the mutation to each receipt. The ceiling is a bare `ws` server (own process) broadcasting to the same number of sockets.',
    '',
    fanoutTable,
    '',
  ].join('\n');
}
