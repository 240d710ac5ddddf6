import type { NotificationChannels, NotificationPriority } from './notification.tables.ts';

/**
 * The catalogue: every kind of notification, how it is delivered, and its texts. A kind not listed
 * here cannot be sent. `ackTimeoutSeconds` is how long an in-app delivery waits for the client's
 * acknowledgement before push takes over (the `notification.ack_timeout_seconds` setting can override
 * it per kind); `expirySeconds` is when it is no longer worth delivering (push TTL, APNs expiration).
 */
export type KindDefinition = {
  channels: NotificationChannels;
  ackTimeoutSeconds: number;
  priority: NotificationPriority;
  expirySeconds: number;
  /** Whether the account may mute it (calls, money and safety messages cannot be muted). */
  mutable: boolean;
  /** iOS gets an APNs VoIP push, Android a high-priority FCM data message (incoming calls only). */
  call?: boolean;
  /** Variables the templates use; the sender must pass each. */
  variables: readonly string[];
  templates: Record<Locale, { title: string; body: string }>;
};

export const LOCALES = ['en', 'es', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

const HOUR = 3600;
const DAY = 24 * HOUR;

export const NOTIFICATION_KINDS = {
  incoming_call: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 2,
    priority: 'high',
    // Capped again at send time by the call.ring_timeout_seconds setting.
    expirySeconds: 30,
    mutable: false,
    call: true,
    variables: ['callerName', 'callId'],
    templates: {
      en: { title: 'Incoming call', body: '{{callerName}} is calling you' },
      es: { title: 'Llamada entrante', body: '{{callerName}} te está llamando' },
      ru: { title: 'Входящий звонок', body: '{{callerName}} звонит вам' },
    },
  },
  call_cancelled: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 2,
    priority: 'high',
    expirySeconds: 60,
    mutable: false,
    variables: ['callerName', 'callId'],
    templates: {
      en: { title: 'Call ended', body: '{{callerName}} hung up' },
      es: { title: 'Llamada terminada', body: '{{callerName}} colgó' },
      ru: { title: 'Звонок завершён', body: '{{callerName}} положил трубку' },
    },
  },
  missed_call: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 7 * DAY,
    mutable: true,
    variables: ['callerName', 'callId'],
    templates: {
      en: { title: 'Missed call', body: 'You missed a call from {{callerName}}' },
      es: { title: 'Llamada perdida', body: 'Tienes una llamada perdida de {{callerName}}' },
      ru: { title: 'Пропущенный звонок', body: 'Пропущенный звонок от {{callerName}}' },
    },
  },
  new_message: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'high',
    expirySeconds: DAY,
    mutable: true,
    variables: ['senderName', 'preview'],
    templates: {
      en: { title: '{{senderName}}', body: '{{preview}}' },
      es: { title: '{{senderName}}', body: '{{preview}}' },
      ru: { title: '{{senderName}}', body: '{{preview}}' },
    },
  },
  gift_received: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 7 * DAY,
    mutable: true,
    variables: ['coins'],
    templates: {
      en: { title: 'You received a gift', body: 'A gift worth {{coins}} coins' },
      es: { title: 'Recibiste un regalo', body: 'Un regalo de {{coins}} monedas' },
      ru: { title: 'Вам подарок', body: 'Подарок на {{coins}} монет' },
    },
  },
  favourite_online: {
    channels: 'in_app',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 10 * 60,
    mutable: true,
    variables: ['name'],
    templates: {
      en: { title: '{{name}} is online', body: '{{name}} just came online' },
      es: { title: '{{name}} está en línea', body: '{{name}} acaba de conectarse' },
      ru: { title: '{{name}} в сети', body: '{{name}} только что появился в сети' },
    },
  },
  photo_moderated: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 7 * DAY,
    mutable: true,
    variables: ['decision', 'reason'],
    templates: {
      en: { title: 'Photo {{decision}}', body: 'Your photo was {{decision}}. {{reason}}' },
      es: { title: 'Foto revisada', body: 'Tu foto fue revisada: {{decision}}. {{reason}}' },
      ru: { title: 'Фото проверено', body: 'Ваше фото проверено: {{decision}}. {{reason}}' },
    },
  },
  video_moderated: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 7 * DAY,
    mutable: true,
    variables: ['decision', 'reason'],
    templates: {
      en: { title: 'Video {{decision}}', body: 'Your video was {{decision}}. {{reason}}' },
      es: { title: 'Video revisado', body: 'Tu video fue revisado: {{decision}}. {{reason}}' },
      ru: { title: 'Видео проверено', body: 'Ваше видео проверено: {{decision}}. {{reason}}' },
    },
  },
  kyc_reviewed: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 30 * DAY,
    mutable: false,
    variables: ['decision', 'reason'],
    templates: {
      en: { title: 'Identity check: {{decision}}', body: 'Your identity check was reviewed. {{reason}}' },
      es: { title: 'Verificación: {{decision}}', body: 'Tu verificación fue revisada. {{reason}}' },
      ru: { title: 'Проверка личности: {{decision}}', body: 'Ваша проверка рассмотрена. {{reason}}' },
    },
  },
  payout_status_changed: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 30 * DAY,
    mutable: false,
    variables: ['status', 'amount'],
    templates: {
      en: { title: 'Payout {{status}}', body: 'Your payout of {{amount}} coins is {{status}}' },
      es: { title: 'Pago {{status}}', body: 'Tu pago de {{amount}} monedas: {{status}}' },
      ru: { title: 'Выплата: {{status}}', body: 'Ваша выплата {{amount}} монет: {{status}}' },
    },
  },
  balance_running_low: {
    // Sent during a call: the client is online by definition, and a push after the call is useless.
    channels: 'in_app',
    ackTimeoutSeconds: 5,
    priority: 'high',
    expirySeconds: 120,
    mutable: false,
    variables: ['secondsLeft'],
    templates: {
      en: { title: 'Balance running low', body: 'Top up within {{secondsLeft}} s or the call ends' },
      es: { title: 'Saldo bajo', body: 'Recarga en {{secondsLeft}} s o la llamada terminará' },
      ru: { title: 'Мало монет', body: 'Пополните баланс за {{secondsLeft}} с, иначе звонок завершится' },
    },
  },
  call_cut_off: {
    // The call just ended under the payer: in-app if the app is still up, else a push saying why.
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 5,
    priority: 'high',
    expirySeconds: HOUR,
    mutable: false,
    variables: [],
    templates: {
      en: { title: 'Call ended', body: 'Your coins ran out. Top up to keep talking' },
      es: { title: 'Llamada terminada', body: 'Te quedaste sin monedas. Recarga para seguir hablando' },
      ru: { title: 'Звонок завершён', body: 'Закончились монеты. Пополните баланс, чтобы продолжить' },
    },
  },
  purchase_completed: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 7 * DAY,
    mutable: false,
    variables: ['coins'],
    templates: {
      en: { title: 'Coins added', body: '{{coins}} coins were added to your balance' },
      es: { title: 'Monedas añadidas', body: 'Se añadieron {{coins}} monedas a tu saldo' },
      ru: { title: 'Монеты зачислены', body: 'На ваш баланс зачислено {{coins}} монет' },
    },
  },
  purchase_refunded: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 30 * DAY,
    mutable: false,
    variables: ['coins'],
    templates: {
      en: {
        title: 'Purchase refunded',
        body: 'The store refunded a purchase: {{coins}} coins were taken back',
      },
      es: {
        title: 'Compra reembolsada',
        body: 'La tienda reembolsó una compra: se retiraron {{coins}} monedas',
      },
      ru: { title: 'Покупка возвращена', body: 'Магазин вернул деньги за покупку: списано {{coins}} монет' },
    },
  },
  payout_requested: {
    // A receipt for what the account just did in the app: the centre is enough, no push.
    channels: 'in_app',
    ackTimeoutSeconds: 10,
    priority: 'normal',
    expirySeconds: 30 * DAY,
    mutable: false,
    variables: ['amount'],
    templates: {
      en: { title: 'Payout requested', body: 'Your payout of {{amount}} coins is waiting for review' },
      es: { title: 'Pago solicitado', body: 'Tu pago de {{amount}} monedas está pendiente de revisión' },
      ru: { title: 'Запрошена выплата', body: 'Ваша выплата {{amount}} монет ожидает проверки' },
    },
  },
  admin_broadcast: {
    channels: 'in_app_then_push',
    ackTimeoutSeconds: 15,
    priority: 'normal',
    expirySeconds: 3 * DAY,
    mutable: true,
    // The operators write the text; templates only frame it.
    variables: ['title', 'body'],
    templates: {
      en: { title: '{{title}}', body: '{{body}}' },
      es: { title: '{{title}}', body: '{{body}}' },
      ru: { title: '{{title}}', body: '{{body}}' },
    },
  },
} as const satisfies Record<string, KindDefinition>;

export type NotificationKind = keyof typeof NOTIFICATION_KINDS;
export const NOTIFICATION_KIND_NAMES = Object.keys(NOTIFICATION_KINDS) as NotificationKind[];

export function isNotificationKind(kind: string): kind is NotificationKind {
  return Object.hasOwn(NOTIFICATION_KINDS, kind);
}

export function kindDefinition(kind: NotificationKind): KindDefinition {
  return NOTIFICATION_KINDS[kind];
}

export function isLocale(value: string): value is Locale {
  return (LOCALES as readonly string[]).includes(value);
}

/** Fills `{{name}}` placeholders; a missing variable is an error in the sender, not an empty string. */
export function renderTemplate(
  kind: NotificationKind,
  locale: string,
  variables: Record<string, string>,
): { title: string; body: string } {
  const definition = kindDefinition(kind);
  for (const name of definition.variables) {
    if (variables[name] === undefined) throw new Error(`notification ${kind}: variable ${name} is missing`);
  }
  const template = definition.templates[isLocale(locale) ? locale : DEFAULT_LOCALE];
  const fill = (text: string) =>
    text.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => variables[name] ?? '').trim();
  return { title: fill(template.title), body: fill(template.body) };
}
