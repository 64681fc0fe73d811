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
