import { AppError } from '../src/platform/errors/app-error.ts';

/** The outcome of a service call as a test compares it: 'OK', the AppError code, or the error text. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
}
