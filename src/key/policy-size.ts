import { Annotations, CfnElement, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { KEY_POLICY_MAX_BYTES } from './validation';

/*
 * The size of a rendered key policy, as KMS will count it, estimated at synth.
 *
 * A value known only at deploy time counts as the longest it can be:
 * - the partition, Region, URL suffix and account by aws-cdk-lib's region facts and
 *   the 12 digits of an account;
 * - a role's or user's ARN of the same stack by its parts, as the template holds them
 *   (overrides included): the partition, the account, its path, and its name (a
 *   literal name as it is; a name CloudFormation generates is
 *   `<stack name>-<logical ID>-<random suffix>`, cut to IAM's 64 characters);
 * - anything else (an import, a parameter, another resource's attribute) as a
 *   128-character ARN, a value KMS policies rarely exceed.
 * The estimate is then within a few bytes per value above the real size, so that a
 * policy is refused only when it cannot fit. Two assumptions: an imported role ARN
 * with a long path can exceed 128 characters, and a stack deployed under another
 * name than its own (a StackSet) generates names up to 64 characters.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html#key-policy-document-size
 */

/** What an unknown value counts for: an ARN of 128 characters. */
const UNKNOWN = 128;
/** An account ID. */
const ACCOUNT = 12;
/** IAM's limit on a role's or user's name. */
const IAM_NAME = 64;
/** IAM's limit on a path. */
const IAM_PATH = 512;
/**
 * The random suffix of a name CloudFormation generates: 12 or 13 characters, as
 * generated names show; 13 counted.
 */
const GENERATED_SUFFIX = 13;

let facts: Record<string, number> | undefined;
/** The longest partition, Region and URL suffix aws-cdk-lib knows. */
function longest(): Record<string, number> {
  if (!facts) {
    const regions = RegionInfo.regions;
    const max = (values: Array<string | undefined>) => Math.max(...values.map(v => (v ?? '').length));
    facts = {
      'AWS::Partition': max(regions.map(r => r.partition)),
      'AWS::Region': max(regions.map(r => r.name)),
      'AWS::URLSuffix': max(regions.map(r => r.domainSuffix)),
      'AWS::AccountId': ACCOUNT,
      'AWS::NoValue': 0,
    };
  }
  return facts;
}

const ESTIMATORS = new WeakMap<Stack, PolicySizeEstimator>();

/** Estimates the size of resolved policies of one stack. */
export class PolicySizeEstimator {
  /** The estimator of a stack, made once: it reads the stack's roles and users on first use. */
  public static of(stack: Stack): PolicySizeEstimator {
    let estimator = ESTIMATORS.get(stack);
    if (!estimator) {
      estimator = new PolicySizeEstimator(stack);
      ESTIMATORS.set(stack, estimator);
    }
    return estimator;
  }

  private principals?: Map<string, number>;

  constructor(private readonly stack: Stack) {}

  /** The JSON size of `resolved` (a policy as the template holds it), each intrinsic at its longest. */
  public size(resolved: unknown): number {
    const json = JSON.stringify(resolved, (_key, value) => {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const length = this.intrinsicLength(value);
        if (length !== undefined) return 'x'.repeat(length);
      }
      return value;
    });
    return Buffer.byteLength(json, 'utf8');
  }

  /** The longest an intrinsic renders to; undefined for an object that is none. */
  private intrinsicLength(value: Record<string, unknown>): number | undefined {
    const keys = Object.keys(value);
    if (keys.length !== 1) return undefined;
    const [fn] = keys;
    const arg = value[fn];
    if (fn === 'Ref') return longest()[arg as string] ?? UNKNOWN;
    if (fn === 'Fn::GetAtt') {
      const [logicalId, attribute] = Array.isArray(arg) ? arg as string[] : [];
      return (attribute === 'Arn' ? this.principalArnLength(logicalId) : undefined) ?? UNKNOWN;
    }
    if (fn === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      if (!Array.isArray(parts)) return UNKNOWN;
      const lengths = parts.map(part => (typeof part === 'string' ? part.length : this.partLength(part)));
      return lengths.reduce((a, b) => a + b, 0) + separator.length * Math.max(parts.length - 1, 0);
    }
    if (fn === 'Fn::Sub' && typeof arg === 'string') {
      return arg.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => 'x'.repeat(longest()[name] ?? UNKNOWN)).length;
    }
    if (fn.startsWith('Fn::') || fn === 'Condition') return UNKNOWN;
    return undefined;
  }

  private partLength(part: unknown): number {
    if (part && typeof part === 'object' && !Array.isArray(part)) return this.intrinsicLength(part as Record<string, unknown>) ?? UNKNOWN;
    return UNKNOWN;
  }

  /** The longest ARN of a role or user of this stack, by its logical ID. */
  private principalArnLength(logicalId: string): number | undefined {
    if (!this.principals) {
      this.principals = new Map(principalsOf(this.stack).map(principal => [this.stack.resolve(principal.logicalId), this.arnLength(principal)]));
    }
    return this.principals.get(logicalId);
  }

  /**
   * `arn:<partition>:iam::<account>:role<path><name>`, each part at its longest, from
   * the resource as the template will hold it (overrides included).
   */
  private arnLength(principal: iam.CfnRole | iam.CfnUser): number {
    const literal = (value: string | undefined) => (value !== undefined && !Token.isUnresolved(value) ? value.length : undefined);
    // The partition of a known Region, by the region facts.
    const region = literal(this.stack.region) !== undefined ? RegionInfo.get(this.stack.region).partition : undefined;
    const partition = literal(this.stack.partition) ?? region?.length ?? longest()['AWS::Partition'];
    const account = literal(this.stack.account) ?? ACCOUNT;
    const given = (value: unknown, longestValue: number) => (value === undefined ? undefined : typeof value === 'string' ? value.length : longestValue);
    const template = pathAndNameOf(principal);
    const path = given(template.path, IAM_PATH) ?? 1;
    const stackName = literal(this.stack.stackName);
    const logicalId: string = this.stack.resolve(principal.logicalId);
    const generated = stackName === undefined ? IAM_NAME : Math.min(IAM_NAME, stackName + 1 + logicalId.length + 1 + GENERATED_SUFFIX);
    const name = given(template.name, IAM_NAME) ?? generated;
    const type = principal instanceof iam.CfnRole ? ':role' : ':user';
    return 'arn:'.length + partition + ':iam::'.length + account + type.length + path + name;
  }
}

/**
 * Refuses a key policy over the KMS limit; warns past 90% of it. Both name the two
 * ways to keep a policy small: a role shared by the grantees, or a fleet.
 */
export function validatePolicySize(scope: IConstruct, document: iam.PolicyDocument): string[] {
  const stack = Stack.of(scope);
  const size = PolicySizeEstimator.of(stack).size(stack.resolve(document));
  const remedies = 'grant a role shared by the grantees instead of each grantee, or grant a fleet of roles under one IAM path (ClassifiedKey.rolesUnderPath)';
  if (size > KEY_POLICY_MAX_BYTES) {
    return [`key policy is about ${size} bytes, more than the ${KEY_POLICY_MAX_BYTES}-byte limit of KMS: ${remedies}`];
  }
  if (size > KEY_POLICY_MAX_BYTES * 0.9) {
    Annotations.of(scope).addWarningV2('cdk-kms-constructs:keyPolicyNearLimit',
      `key policy is about ${size} bytes, ${Math.round(size / KEY_POLICY_MAX_BYTES * 100)}% of the ${KEY_POLICY_MAX_BYTES}-byte limit of KMS: ${remedies}`);
  }
  return [];
}

/** The roles and users of `stack`'s own template. */
export function principalsOf(stack: Stack): Array<iam.CfnRole | iam.CfnUser> {
  return stack.node.findAll().filter((c): c is iam.CfnRole | iam.CfnUser =>
    (c instanceof iam.CfnRole || c instanceof iam.CfnUser) && CfnElement.isCfnElement(c) && Stack.of(c) === stack);
}

/**
 * A role's or user's path and name as its template will hold them, property overrides
 * included: a string, an intrinsic, or undefined where not given (a generated name).
 */
export function pathAndNameOf(principal: iam.CfnRole | iam.CfnUser): { path: unknown; name: unknown } {
  const stack = Stack.of(principal);
  const rendered = stack.resolve(principal._toCloudFormation()) as { Resources?: Record<string, { Properties?: Record<string, unknown> }> };
  const properties = Object.values(rendered.Resources ?? {})[0]?.Properties ?? {};
  return { path: properties.Path, name: principal instanceof iam.CfnRole ? properties.RoleName : properties.UserName };
}
