import type { Readable } from 'node:stream';

/** An object as read back from storage. */
export type StoredObject = { body: Readable; contentType: string; size: number };

/**
 * Where uploaded files live. Keys are relative paths (`media/<owner>/<id>/<variant>.jpg`) chosen by
 * the server, never by a client. Access control is not the storage's job: callers check permissions
 * first and then hand out a URL that expires.
 */
export type ObjectStorage = {
  readonly backend: 'local' | 's3';
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** null when there is no such object. */
  get(key: string): Promise<StoredObject | null>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * A URL the client can download from directly for `expiresInSeconds`, or null when the backend
   * cannot sign one itself (local: the server streams the file behind its own signed URL).
   */
  presignedGetUrl(key: string, expiresInSeconds: number): Promise<string | null>;
};

const KEY_PATTERN = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_.-]*)*$/i;

/** Refuses keys that could leave the storage root (`..`, absolute paths, odd characters). */
export function assertStorageKey(key: string): void {
  if (!KEY_PATTERN.test(key) || key.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`invalid storage key ${JSON.stringify(key)}`);
  }
}
