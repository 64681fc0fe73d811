/*
 * What the handler tests share: an AWS SDK error as the SDK throws it (its name is the
 * service's exception), and the error a call fails with.
 */

/** An AWS SDK v3 service error of this name, as the client throws it. */
export function awsError(name: string, message = `${name} from AWS`): Error {
  return Object.assign(new Error(message), { name, $fault: 'client' });
}

/** The error a call fails with; a call that succeeds fails the test. */
export async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}
