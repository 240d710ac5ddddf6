import { describe, expect, it } from 'vitest';
import { PubSubPushAuthError, PubSubPushAuthenticator } from './pubsub-push-auth.ts';

describe('Pub/Sub push authentication with a shared token', () => {
  const now = () => new Date();

  it('accepts the configured token only', async () => {
    const auth = new PubSubPushAuthenticator({ sharedToken: 'a-long-shared-secret-token', now });
    await expect(
      auth.authenticate({ authorization: undefined, token: 'a-long-shared-secret-token' }),
    ).resolves.toBeUndefined();
    for (const token of [
      undefined,
      '',
      'a-long-shared-secret-tokeN',
      'a-long-shared-secret-token-and-more',
    ]) {
      await expect(auth.authenticate({ authorization: undefined, token })).rejects.toBeInstanceOf(
        PubSubPushAuthError,
      );
    }
  });

  it('refuses every push when nothing is configured', async () => {
    const auth = new PubSubPushAuthenticator({ now });
    expect(auth.configured).toBe(false);
    await expect(auth.authenticate({ authorization: 'Bearer x', token: 'x' })).rejects.toBeInstanceOf(
      PubSubPushAuthError,
    );
  });
});
