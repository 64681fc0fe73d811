/*
 * How the custom-resource handlers turn an AWS SDK error into what CloudFormation
 * shows: what to do, then the error's name and message. Each handler has its own
 * remedies; bundled into each (no AWS SDK import here).
 */

/** An AWS SDK error as `<what to do> (<name>: <message>)`, or `<name>: <message>` with no remedy for it. */
export function explainAwsError(error: unknown, remedies: Record<string, string>): string {
  const name = (error as { name?: string }).name ?? 'Error';
  const message = (error as { message?: string }).message ?? String(error);
  const remedy = remedies[name];
  return remedy ? `${remedy} (${name}: ${message})` : `${name}: ${message}`;
}

/** Whether an error is the AWS error of this name. */
export function isError(error: unknown, name: string): boolean {
  return (error as { name?: string }).name === name;
}

/**
 * A call tried again while it fails with `errorName`, with backoff (the first wait
 * doubled each time: 2, 4, 8, 16, 32 s by default), `attempts` times in all: how KMS
 * refuses a principal IAM has not finished propagating (a role made in the same
 * deployment). Each wait is logged with `why`.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
 */
export async function whileIamPropagates<T>(errorName: string, why: string, call: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isError(error, errorName) || attempt >= attempts) throw error;
      const wait = Number(process.env.IAM_RETRY_MS ?? 2000) * 2 ** (attempt - 1);
      console.log(JSON.stringify({ level: 'WARN', message: `${why} (${(error as Error).message}): trying again in ${wait / 1000} s` }));
      await new Promise(resolve => setTimeout(resolve, wait));
    }
  }
}
