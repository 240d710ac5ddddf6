import type { Config } from '../../platform/config/config.ts';
import { createLocalStorage } from './local-storage.provider.ts';
import { createS3Storage } from './s3-storage.provider.ts';
import type { ObjectStorage } from './storage.provider.ts';

/** The backend STORAGE_BACKEND names: local files by default, S3-compatible storage in production. */
export function createStorage(config: Config['media']): ObjectStorage {
  if (config.backend === 's3') {
    if (!config.s3) throw new Error('STORAGE_BACKEND=s3 needs the S3_* settings');
    return createS3Storage(config.s3);
  }
  return createLocalStorage(config.localDir);
}
