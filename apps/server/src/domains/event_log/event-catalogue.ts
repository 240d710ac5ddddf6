import type { z } from 'zod';

/** What a domain hands to `emit`: a known type, a payload its schema accepts, the user it concerns. */
export type EventInput = {
  type: string;
  /** The newest version in the catalogue when omitted. */
  version?: number;
  payload: unknown;
  userId?: string | null;
};

/** An event as consumers and the admin API see it: committed, with its place in commit order. */
export type LoggedEvent<P = unknown> = {
  id: string;
  position: bigint;
  type: string;
  version: number;
  payload: P;
  userId: string | null;
  occurredAt: Date;
};

export type EventDefinition<T extends string = string, S extends z.ZodType = z.ZodType> = {
  readonly type: T;
  readonly version: number;
  readonly description: string;
  readonly payload: S;
  /** An `emit` input whose payload the compiler checks against this definition. */
  event(payload: z.input<S>, options?: { userId?: string | null }): EventInput;
  /** Narrows a delivered event to this definition (same type and version). */
  matches(event: LoggedEvent): event is LoggedEvent<z.output<S>>;
};

// Snake case: the names are stored, filtered on and shown to operators, so they stay plain.
const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,99}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Declares one version of one event type. Each domain lists its own in `<domain>.events.ts`. */
export function defineEvent<const T extends string, S extends z.ZodType>(spec: {
  type: T;
  version: number;
  description: string;
  payload: S;
}): EventDefinition<T, S> {
  if (!TYPE_PATTERN.test(spec.type)) {
    throw new Error(`event type ${JSON.stringify(spec.type)} must be snake_case (a-z, 0-9, _)`);
  }
  if (!Number.isInteger(spec.version) || spec.version < 1) {
    throw new Error(`event ${spec.type}: version must be a positive integer`);
  }
  return {
    type: spec.type,
    version: spec.version,
    description: spec.description,
    payload: spec.payload,
    event: (payload, options) => ({
      type: spec.type,
      version: spec.version,
      payload,
      userId: options?.userId ?? null,
    }),
    matches: (event): event is LoggedEvent<z.output<S>> =>
      event.type === spec.type && event.version === spec.version,
  };
}

export type EventLogErrorCode = 'UNKNOWN_EVENT_TYPE' | 'INVALID_EVENT_PAYLOAD';

/** A programming error at an `emit` call: nothing was written. Clients see INTERNAL_SERVER_ERROR. */
export class EventLogError extends Error {
  readonly code: EventLogErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: EventLogErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'EventLogError';
    this.code = code;
    this.details = details;
  }
}

/** Every event type the application may emit, by type and version. */
export class EventCatalogue {
  private readonly byType = new Map<string, Map<number, EventDefinition>>();

  constructor(definitions: readonly EventDefinition[]) {
    for (const definition of definitions) {
      const versions = this.byType.get(definition.type) ?? new Map<number, EventDefinition>();
      if (versions.has(definition.version)) {
        throw new Error(`event ${definition.type} v${definition.version} is defined twice`);
      }
      versions.set(definition.version, definition);
      this.byType.set(definition.type, versions);
    }
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }

  definitions(): EventDefinition[] {
    return [...this.byType.values()].flatMap((versions) => [...versions.values()]);
  }

  /** The definition for `type` (its newest version unless one is named); throws when there is none. */
  resolve(type: string, version?: number): EventDefinition {
    const versions = this.byType.get(type);
    if (!versions) {
      throw new EventLogError('UNKNOWN_EVENT_TYPE', `unknown event type ${JSON.stringify(type)}`, { type });
    }
    const wanted = version ?? Math.max(...versions.keys());
    const definition = versions.get(wanted);
    if (!definition) {
      throw new EventLogError('UNKNOWN_EVENT_TYPE', `event ${type} has no version ${wanted}`, {
        type,
        version: wanted,
      });
    }
    return definition;
  }

  /** The payload as the definition parses it (unknown keys dropped); throws when it does not fit. */
  validate(event: EventInput): { definition: EventDefinition; payload: unknown } {
    const definition = this.resolve(event.type, event.version);
    if (event.userId !== undefined && event.userId !== null && !UUID_PATTERN.test(event.userId)) {
      throw new EventLogError('INVALID_EVENT_PAYLOAD', `event ${definition.type}: userId must be a uuid`, {
        type: definition.type,
      });
    }
    const parsed = definition.payload.safeParse(event.payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new EventLogError(
        'INVALID_EVENT_PAYLOAD',
        `event ${definition.type} v${definition.version}: ${where}${issue?.message ?? 'invalid payload'}`,
        { type: definition.type, version: definition.version, issues: parsed.error.issues },
      );
    }
    return { definition, payload: parsed.data };
  }
}
