-- Signing keys of OLO's own token issuer. The newest active key signs; older keys
-- keep verifying until expires_at, so rotation never invalidates live tokens.
create schema if not exists auth;

create table auth.signing_keys (
  kid          text        primary key,
  algorithm    text        not null check (algorithm in ('ES256')),
  public_jwk   jsonb       not null,
  private_jwk  jsonb       not null,
  created_at   timestamptz not null default now(),
  retired_at   timestamptz,
  expires_at   timestamptz
);

create index signing_keys_active on auth.signing_keys (created_at desc) where retired_at is null;
