import { Arn, ArnFormat, Aws, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { DataClassification } from './classification';
import { Grantee, GranteeKind } from './grantee';

const IS_ROLES_UNDER_PATH = Symbol.for('cdk-kms-constructs.RolesUnderPath');

/** IAM's pattern for a path: `/`, or slash-separated printable ASCII ending in `/`. */
const IAM_PATH = /^\/(?:[\u0021-\u007E]+\/)?$/;
/** Characters that would widen an `ArnLike` pattern or start a policy variable. */
const PATTERN_CHARACTERS = /[*?$]/;

/**
 * Every IAM role of the key's account under one IAM path: a fleet grantee.
 *
 * Give it to a key's grant methods (`key.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/readers/'))`)
 * when more roles use a key than its 32 KB policy can name one by one. The key
 * policy then allows the grant's actions to any principal whose `aws:PrincipalArn`
 * matches `arn:<partition>:iam::<account>:role/payments/readers/*` (`ArnLike`), in
 * the key's account (`aws:PrincipalAccount`), under the key's own conditions
 * (`kms:ViaService`, encryption context). One statement serves 10 or 10,000 roles.
 *
 * Who can then join the fleet: anyone who can create a role under the path
 * (`iam:CreateRole` with that path) or change an existing role's trust to assume it.
 * Roles under nested paths (`/payments/readers/batch/`) match too. Restrict role
 * creation under the path (an SCP with `iam:CreateRole` and a condition on the
 * role's ARN, or a permissions boundary) before you trust it with a key. The fleet
 * never gets administration: the key policy denies it to everyone but the key's
 * administrators.
 *
 * RESTRICTED keys refuse fleet grants unless the key sets `allowFleetGrants`.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
 */
export class RolesUnderPath extends iam.PrincipalBase {
  /** Whether a value is a RolesUnderPath, of this copy of the library or another. */
  public static isRolesUnderPath(x: unknown): x is RolesUnderPath {
    return typeof x === 'object' && x !== null && IS_ROLES_UNDER_PATH in x;
  }

  /** The IAM path, such as `/payments/readers/`. */
  public readonly path: string;

  /**
   * @param path an IAM path of at least one level, starting and ending with `/`,
   * without `*`, `?` or `$`.
   */
  constructor(path: string) {
    super();
    Object.defineProperty(this, IS_ROLES_UNDER_PATH, { value: true });
    if (Token.isUnresolved(path)) {
      throw new Error(`rolesUnderPath: path must be known at synth, got a token (${path}): the key policy names the fleet by it`);
    }
    if (!IAM_PATH.test(path) || path.length > 512) {
      throw new Error(`rolesUnderPath: path must start and end with '/' and hold printable ASCII only, at most 512 characters, as IAM paths do, got '${path}'`);
    }
    if (path === '/') {
      throw new Error('rolesUnderPath: path must not be \'/\': every role of the account is under it. Grant a shared role, or use a path of its own for the fleet');
    }
    if (PATTERN_CHARACTERS.test(path)) {
      throw new Error(`rolesUnderPath: path must not contain '*', '?' or '$', got '${path}': in the key policy's ArnLike pattern they would match roles under other paths`);
    }
    this.path = path;
  }

  /** The pattern of the fleet's role ARNs in the account and partition of `scope`'s stack. */
  public arnPatternIn(scope: IConstruct): string {
    const stack = Stack.of(scope);
    // The partition of a known Region by the region facts, so that the pattern reads plainly.
    const partition = Token.isUnresolved(stack.region) ? stack.partition : RegionInfo.get(stack.region).partition ?? stack.partition;
    return Arn.format({
      partition, service: 'iam', region: '', resource: 'role', resourceName: `${this.path.slice(1)}*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }, stack);
  }

  /**
   * The conditions that hold a statement to the fleet in the account and partition
   * of `scope`'s stack.
   */
  public conditionsIn(scope: IConstruct): Record<string, Record<string, string>> {
    return {
      ArnLike: { 'aws:PrincipalArn': this.arnPatternIn(scope) },
      StringEquals: { 'aws:PrincipalAccount': Stack.of(scope).account },
    };
  }

  /**
   * As a principal of another resource policy (a bucket's, a queue's): every
   * principal, held by the same conditions to the fleet of the account whose
   * template holds the policy.
   */
  public get policyFragment(): iam.PrincipalPolicyFragment {
    return new iam.PrincipalPolicyFragment({ AWS: ['*'] }, {
      ArnLike: { 'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role${this.path}*` },
      StringEquals: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID },
    });
  }

  /** A fleet has no identity policy: grants go to the resource's policy. */
  public addToPrincipalPolicy(_statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    return { statementAdded: false };
  }

  public dedupeString(): string | undefined {
    return `RolesUnderPath:${this.path}`;
  }

  public toString(): string {
    return `RolesUnderPath(${this.path})`;
  }
}

/**
 * A fleet as a grantee of `key`: every principal, held to the fleet's roles in the
 * key's account, under the key's conditions. Refused where the key does not allow
 * fleets (RESTRICTED keys by default).
 */
export function fleetGrantee(
  method: string, key: IConstruct & { readonly classification: DataClassification }, fleet: RolesUnderPath, allowed: boolean,
): Grantee {
  if (!allowed) {
    throw new Error(
      `${method} must not be given ${fleet} for a ${key.classification} key without allowFleetGrants: `
      + `anyone who can create a role under ${fleet.path} could then use the key; grant the roles by name, or set allowFleetGrants: true`,
    );
  }
  return {
    kind: GranteeKind.NAMED, principal: new iam.AnyPrincipal(), account: Stack.of(key).account, conditions: fleet.conditionsIn(key), description: `${fleet}`,
  };
}
