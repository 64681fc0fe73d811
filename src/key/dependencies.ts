import { Stack } from 'aws-cdk-lib';

/**
 * Makes `source` deploy after `target`, with the reason CDK gives if it makes a cycle.
 * Newer aws-cdk-lib deprecate `Stack#addDependency` for `Stack#addStackDependency`,
 * which the oldest aws-cdk-lib the library supports does not have; each is called
 * where it is current, so that no app sees a deprecation warning caused by the library.
 * Unlike `node.addDependency`, it holds when called once the app is prepared (from a
 * validation).
 */
export function addStackDependency(source: Stack, target: Stack, reason: string): void {
  const current = (source as unknown as { addStackDependency?: (target: Stack, reason?: string) => void }).addStackDependency;
  if (typeof current === 'function') {
    current.call(source, target, reason);
  } else {
    source.addDependency(target, reason);
  }
}
