/** Sends text messages (sign-in codes). One implementation per vendor; `local` is the default. */
export type SmsProvider = {
  readonly name: string;
  send(message: { to: string; body: string }): Promise<void>;
};
