-- Ad attribution, tracking consent, postback deliveries to analytics vendors and Apphud webhooks.
create schema if not exists ads;

-- The current attribution of each account's install: the latest report wins, install time is kept.
create table ads.attributions (
  user_id       uuid        primary key,
  -- 'client' (the conversion data the AppsFlyer SDK gave the app) or 'appsflyer_push' (server to server).
  source        text        not null check (source in ('client', 'appsflyer_push')),
  media_source  text,
  campaign      text,
  adset         text,
  ad            text,
  is_organic    boolean     not null,
  click_time    timestamptz,
  install_time  timestamptz,
  appsflyer_id  text,
  platform      text        check (platform in ('ios', 'android')),
  -- Firebase Analytics' app instance id, for GA4 Measurement Protocol events of app streams.
  app_instance_id text,
  raw           jsonb       not null,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
create index attributions_source_campaign on ads.attributions (media_source, campaign);

-- Every report received, never updated: the history behind ads.attributions.
create table ads.attribution_history (
  id            bigint      generated always as identity primary key,
  user_id       uuid        not null,
  source        text        not null,
  media_source  text,
  campaign      text,
  adset         text,
  ad            text,
  is_organic    boolean     not null,
  click_time    timestamptz,
  install_time  timestamptz,
  appsflyer_id  text,
  raw           jsonb       not null,
  received_at   timestamptz not null default now()
);
create index attribution_history_user on ads.attribution_history (user_id, id desc);

-- The account's tracking choice: an explicit opt-out, and Apple's App Tracking Transparency status.
create table ads.tracking_consent (
  user_id     uuid        primary key,
  opted_out   boolean     not null default false,
  att_status  text        check (att_status in ('authorized', 'denied', 'restricted', 'not_determined')),
  updated_at  timestamptz not null default now()
);

-- Sign-ups and purchases as the ads domain saw them, for the daily report per source and campaign.
create table ads.conversions (
  event_id      uuid        primary key,
  kind          text        not null check (kind in ('sign_up', 'purchase')),
  user_id       uuid        not null,
  amount_minor  bigint,
  currency      text,
  occurred_at   timestamptz not null
);
create index conversions_day on ads.conversions (occurred_at);

-- One row per (destination, event): the delivery state machine; the event id is the vendor's dedup key.
create table ads.deliveries (
  id               bigint      generated always as identity primary key,
  destination      text        not null,
  event_id         uuid        not null,
  event_type       text        not null,
  user_id          uuid,
  event            jsonb       not null,
  status           text        not null default 'pending'
                   check (status in ('pending', 'sent', 'failed', 'skipped')),
  attempts         integer     not null default 0,
  next_attempt_at  timestamptz not null default now(),
  -- Set while a sender holds the delivery; a crashed sender's lease runs out and another takes over.
  lease_until      timestamptz,
  last_error       text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  sent_at          timestamptz,
  unique (destination, event_id)
);
create index deliveries_due on ads.deliveries (destination, next_attempt_at) where status = 'pending';
create index deliveries_log on ads.deliveries (destination, id desc);

-- Every attempt with what the vendor answered, never updated.
create table ads.delivery_attempts (
  id           bigint      generated always as identity primary key,
  delivery_id  bigint      not null references ads.deliveries (id),
  attempt      integer     not null,
  outcome      text        not null check (outcome in ('sent', 'transient', 'permanent', 'skipped')),
  http_status  integer,
  request      text,
  response     text,
  at           timestamptz not null default now()
);
create index delivery_attempts_delivery on ads.delivery_attempts (delivery_id, id);

-- The local event sink: the default destination, readable by admins.
create table ads.sink_events (
  id           bigint      generated always as identity primary key,
  event_id     uuid        not null unique,
  name         text        not null,
  user_id      uuid,
  payload      jsonb       not null,
  received_at  timestamptz not null default now()
);

-- Apphud server-to-server webhooks (subscription events), recorded once per Apphud event id.
create table ads.apphud_events (
  id               bigint      generated always as identity primary key,
  apphud_event_id  text        not null unique,
  name             text        not null,
  user_id          uuid,
  apphud_user_id   text,
  product_id       text,
  environment      text,
  -- False while feature.subscriptions_enabled is off: recorded, not acted on.
  applied          boolean     not null,
  payload          jsonb       not null,
  received_at      timestamptz not null default now()
);
create index apphud_events_user on ads.apphud_events (user_id, id desc);
