import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

const integer = z.string().regex(/^-?\d+$/, 'an integer, as a string');
const store = z.enum(['apple', 'google', 'sandbox']);

export const purchaseCompleted = defineEvent({
  type: 'purchase_completed',
  version: 1,
  description:
    'A store purchase was verified and its coins credited to the buyer (once per store transaction). ' +
    'Price in the minor unit of the currency, as the store or the price list reports it (null if unknown).',
  payload: z.object({
    purchaseId: z.uuid(),
    userId: z.uuid(),
    store,
    productId: z.uuid(),
    sku: z.string(),
    coins: integer,
    bonusCoins: integer,
    priceAmountMinor: integer.nullable(),
    currency: z.string().nullable(),
  }),
});

export const purchaseRefunded = defineEvent({
  type: 'purchase_refunded',
  version: 1,
  description:
    'The store refunded or revoked a credited purchase and its coins were taken back (the paid ' +
    'wallet may now be negative). coins/bonusCoins are what was taken back.',
  payload: z.object({
    purchaseId: z.uuid(),
    userId: z.uuid(),
    store,
    productId: z.uuid(),
    sku: z.string(),
    kind: z.enum(['refunded', 'revoked']),
    coins: integer,
    bonusCoins: integer,
    priceAmountMinor: integer.nullable(),
    currency: z.string().nullable(),
  }),
});

/** Every event the payment domain emits. */
export const paymentEvents = [purchaseCompleted, purchaseRefunded];

/** Events the account may see on its accountEvents subscription. */
export const paymentAccountVisibleEvents = [purchaseCompleted, purchaseRefunded];
