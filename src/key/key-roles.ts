import { createHash } from 'crypto';
import { Aws, DefaultStackSynthesizer, Fn, Names, Stack, Tags, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { ClassificationRules, DataClassification } from './classification';
import { stackString } from './stack-strings';

/** Where a stack keeps its shared admin roles: a global symbol, so two copies of the library share them. */
const SHARED_ADMIN_ROLES = Symbol.for('cdk-kms-constructs.sharedAdminRoles');
/** Marks a role this library made with MFA in its trust policy. */
const MFA_IN_TRUST = Symbol.for('cdk-kms-constructs.mfaInTrust');
/** The literal ARN of an admin role this library made and named. */
const LITERAL_ARN = Symbol.for('cdk-kms-constructs.literalArn');

/** The tag key of the data classification (ClassifiedKey.CLASSIFICATION_TAG). */
const CLASSIFICATION_TAG = 'data-classification';

/**
 * The admin role the keys of one stack share, one per classification and trust,
 * created by the first key that needs it: administrators of a stack's CONFIDENTIAL
 * keys administer all of them, as the trail is shared by all keys of an account and
 * Region. Each key still names the role in its own policy, so a key of another
 * classification, or given its own `adminRole`, is not theirs.
 */
export function sharedAdminRole(
  scope: IConstruct, classification: DataClassification, rules: ClassificationRules, assumedBy?: iam.IPrincipal,
): iam.Role {
  const stack = Stack.of(scope);
  const roles: Map<string, iam.Role> = (stack as any)[SHARED_ADMIN_ROLES] ?? new Map();
  if (!(SHARED_ADMIN_ROLES in stack)) Object.defineProperty(stack, SHARED_ADMIN_ROLES, { value: roles });

  const trust = assumedBy ?? new iam.AccountRootPrincipal();
  // Keys given the same trust share a role; another trust is another role.
  const fingerprint = assumedBy === undefined ? ''
    : createHash('sha256').update(JSON.stringify(stack.resolve(trust.policyFragment))).digest('hex').slice(0, 8).toUpperCase();
  const id = `${pascal(classification)}KeyAdmins${fingerprint}`;
  const existing = roles.get(id);
  if (existing) return existing;
  const role = keyAdminRole(stack, id, classification, rules, trust,
    `Administers the ${classification} ClassifiedKeys of ${stack.stackName}; cannot use them`);
  roles.set(id, role);
  return role;
}

/**
 * A role that administers keys of a classification: trusted by `assumedBy`, with
 * MFA when the classification requires it, and tagged with the classification.
 */
export function keyAdminRole(
  scope: Construct, id: string, classification: DataClassification, rules: ClassificationRules,
  assumedBy: iam.IPrincipal, description: string,
): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: adminTrust(classification, assumedBy, rules.adminRequiresMfa),
    description,
  });
  if (rules.adminRequiresMfa) Object.defineProperty(role, MFA_IN_TRUST, { value: true });
  Tags.of(role).add(CLASSIFICATION_TAG, rules.tagValue);
  // Named, so that every key policy names it by a literal ARN rather than a
  // reference (shorter, and quicker to synthesize, in each of a stack's keys). Role
  // names are unique in the account: the name is the construct path's, with the Region.
  // A stack of no fixed Region gets its Region at deploy time (the longest name is 14
  // characters).
  const stack = Stack.of(role);
  const regionKnown = !Token.isUnresolved(stack.region);
  const base = Names.uniqueResourceName(role, { maxLength: 64 - (regionKnown ? stack.region.length + 1 : 15), separator: '-' });
  (role.node.defaultChild as iam.CfnRole).roleName = regionKnown ? `${base}-${stack.region}` : Fn.join('-', [base, Aws.REGION]);
  Object.defineProperty(role, LITERAL_ARN, {
    value: stackString(stack, `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${base}-\${AWS::Region}`),
  });
  return role;
}

/**
 * How a key policy names an admin role: the library's own by its literal ARN (the
 * key must then depend on the role, which KMS requires to exist), any other as given.
 */
export function adminPrincipal(role: iam.IRole): { principal: iam.IPrincipal; named: boolean } {
  const arn: string | undefined = (role as any)[LITERAL_ARN];
  return arn === undefined ? { principal: role, named: false } : { principal: new iam.ArnPrincipal(arn), named: true };
}

/** Whether the role was made by this library with MFA in its trust policy. */
export function hasMfaInTrust(role: iam.IRole): boolean {
  return MFA_IN_TRUST in role;
}

function adminTrust(classification: DataClassification, principal: iam.IPrincipal, requireMfa: boolean): iam.IPrincipal {
  if (!requireMfa) return principal;
  if ('Service' in principal.policyFragment.principalJson) {
    throw new Error(
      `adminRoleAssumedBy must be a principal that can sign in with MFA for a ${classification} key, got service principal ${principal}`,
    );
  }
  return new iam.PrincipalWithConditions(principal, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } });
}

function pascal(classification: DataClassification): string {
  return classification.charAt(0) + classification.slice(1).toLowerCase();
}

/**
 * The ARN of the role CloudFormation deploys a stack with, from the stack's
 * synthesizer (`DefaultStackSynthesizer`), or undefined for a synthesizer that has none.
 */
export function deployRoleArnOf(stack: Stack): string | undefined {
  // Read as a property, not by class: another copy of aws-cdk-lib's synthesizer has it too.
  const synthesizer = stack.synthesizer as Partial<Pick<DefaultStackSynthesizer, 'cloudFormationExecutionRoleArn'>>;
  if (typeof synthesizer.cloudFormationExecutionRoleArn !== 'string') return undefined;
  return stackString(stack, synthesizer.cloudFormationExecutionRoleArn);
}

/**
 * The ARN of the role CloudFormation deploys a key's stack with: `deployRole`, or the
 * CloudFormation execution role of the stack's synthesizer.
 */
export function deployRoleArnFor(key: IConstruct, deployRole?: iam.IRole): string {
  if (deployRole) return deployRole.roleArn;
  const arn = deployRoleArnOf(Stack.of(key));
  if (arn === undefined) {
    throw new Error(
      `deployRole is required for ${key.node.path}: its stack's synthesizer (${Stack.of(key).synthesizer.constructor.name}) has no CloudFormation execution role, which the key policy names as the role that updates it and creates the key's consumers`,
    );
  }
  return arn;
}
