-- The admins' listing of failed deliveries (deliveryLogs(filter: {failure})). Partial: failures are a
-- small share of the log, and the log is insert-only, so the index costs no HOT updates anywhere.
-- Status is deliberately not indexed: the delivery jobs update it two or three times per
-- notification, and an index on it would make every one of those updates non-HOT.
create index attempts_failures on notification.attempts (outcome, notification_id)
  where outcome in ('push_failed', 'invalid_token', 'push_retry', 'push_unknown', 'expired');
