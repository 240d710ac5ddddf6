-- Sign-in codes are also capped per requesting IP, so one client cannot spray SMS to many numbers.
alter table "user".otp_challenges add column ip text;
create index otp_challenges_ip on "user".otp_challenges (ip, created_at desc) where ip is not null;
