import { Reference, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { Conditions } from './grantee';

/*
 * Conditions and principals of key policy statements, combined and compared: how a
 * grant's conditions join the key's, and when two principals are one.
 */

/** Conditions of both, the second's values winning for the same operator and key. */
export function mergeConditions(a: Conditions, b: Conditions): Conditions {
  const result: Conditions = { ...a };
  for (const [operator, values] of Object.entries(b)) {
    result[operator] = { ...(result[operator] ?? {}), ...values };
  }
  return result;
}

/**
 * Whether two principals are the same, including two references to one role. A value
 * of another stack is compared as its token, not resolved here (a role of another
 * account cannot be resolved in this stack).
 */
export function samePrincipal(scope: IConstruct, a: iam.IPrincipal, b: iam.IPrincipal): boolean {
  if (a === b) return true;
  const stack = Stack.of(scope);
  const render = (p: iam.IPrincipal) => JSON.stringify(p.policyFragment.principalJson, (_key, value) => {
    if (typeof value !== 'string' || !Token.isUnresolved(value)) return value;
    const foreign = Tokenization.reverseString(value).tokens.some(t => t instanceof Reference && Stack.of(t.target) !== stack);
    return foreign ? value : stack.resolve(value);
  });
  return render(a) === render(b);
}
