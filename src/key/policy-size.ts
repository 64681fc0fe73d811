import { Token } from 'aws-cdk-lib';

/*
 * The size of a rendered key policy, as KMS will count it: every reference only known
 * at deploy time (a role ARN, the account) taken as a 128-character ARN, so that a
 * policy over the KMS limit is found at synth.
 */

const ARN_PLACEHOLDER = 'x'.repeat(128);

/** The JSON size of a policy, with every token or intrinsic counted as an ARN. */
export function sizeWithPlaceholders(policy: unknown): number {
  const json = JSON.stringify(policy, (_key, value) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      if (Token.isUnresolved(value)) return ARN_PLACEHOLDER;
      const keys = Object.keys(value);
      if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) return ARN_PLACEHOLDER;
    }
    return value;
  });
  return Buffer.byteLength(json.replace(/\$\{Token\[[^\]]+\]\}/g, ARN_PLACEHOLDER), 'utf8');
}
