import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SETTINGS_READS } from './actions';
import { accountRootArn } from './stack-strings';

/*
 * The lockout guard of a key policy: the account root's statements, through which
 * only the policy writers (the deploy role, a home's handler, the account's root user
 * and the key's administrators) manage the key and change its policy, and through
 * which the account reads the key's settings.
 */

/** Who the lockout guard lets manage the key, and with which actions. */
export interface LockoutGuardOptions {
  /** Actions of the account root's lockout guard: administration without import or policy changes. */
  readonly lockoutGuardActions: string[];
  /** The principals, besides the key's administrators and the account's root user, that may manage the key through the account. */
  readonly policyWriters: string[];
  /** Principals, by ARN, named in the policy-change statement itself, not only through the account. */
  readonly namedPolicyWriters?: string[];
}

/** The account root's statements of a key policy, which the key's administrators join. */
export class LockoutGuard {
  /** The administration statement, shared by the account root and the key's administrators. */
  public readonly administration: iam.PolicyStatement;
  /** The key policy changes, through the account or by the named writers. */
  public readonly policyChanges: iam.PolicyStatement;
  /** Who manages the key through the account: the writers, the account's root user and the admitted administrators, by ARN. */
  public readonly policyWriters: string[];

  /** Adds the guard's statements to `document`. */
  constructor(stack: Stack, document: iam.PolicyDocument, options: LockoutGuardOptions) {
    // The account root, as a guard against lockout: the key is managed through the
    // account only by the deploy role (CloudFormation), a home's handler and the
    // account's root user, by `aws:PrincipalArn`, so that IAM alone (kms:*,
    // PowerUserAccess) can neither disable, delete, re-tag nor re-point the key, and
    // CloudFormation and the root user always can (no lockout). The key's own
    // administrators join this statement; nobody gets cryptography from it.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
    // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    const root = accountRootArn(stack);
    this.policyWriters = [...options.policyWriters, root];
    this.administration = new iam.PolicyStatement({
      sid: 'KeyAdministration',
      principals: [new iam.ArnPrincipal(root)],
      actions: options.lockoutGuardActions,
      resources: ['*'],
      conditions: { ArnEquals: { 'aws:PrincipalArn': this.policyWriters } },
    });
    document.addStatements(this.administration);
    // Reading the key's settings stays with the account's IAM policies: AWS Config,
    // Security Hub and inventories read every key of the account that way.
    const reads = options.lockoutGuardActions.filter(a => SETTINGS_READS.includes(a));
    if (reads.length > 0) {
      document.addStatements(new iam.PolicyStatement({
        sid: 'AccountReadsKeySettings',
        principals: [new iam.ArnPrincipal(root)],
        actions: reads,
        resources: ['*'],
      }));
    }
    // The key policy itself, likewise; and by whoever the home names as its creator.
    this.policyChanges = new iam.PolicyStatement({
      sid: 'KeyPolicyChanges',
      principals: [new iam.ArnPrincipal(root), ...(options.namedPolicyWriters ?? []).map(arn => new iam.ArnPrincipal(arn))],
      actions: ['kms:PutKeyPolicy'],
      resources: ['*'],
      conditions: { ArnEquals: { 'aws:PrincipalArn': this.policyWriters } },
    });
    document.addStatements(this.policyChanges);
  }

  /**
   * The key's own administrator, without an MFA condition: it joins the account
   * root's administration statement and the policy writers.
   */
  public admit(principal: iam.IPrincipal): void {
    this.administration.addPrincipals(principal);
    this.policyChanges.addPrincipals(principal);
    this.policyWriters.push(...(principal.policyFragment.principalJson.AWS ?? []));
    this.administration.addCondition('ArnEquals', { 'aws:PrincipalArn': this.policyWriters });
    this.policyChanges.addCondition('ArnEquals', { 'aws:PrincipalArn': this.policyWriters });
  }
}
