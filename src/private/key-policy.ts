import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { GRANTS_FOR_AWS_RESOURCES, TAKES_ENCRYPTION_CONTEXT } from './actions';
import { KEY_POLICY_MAX_BYTES } from './validation';

type Conditions = Record<string, Record<string, unknown>>;

/** What shapes a key policy. Decided by ClassifiedKey, rendered here. */
export interface KeyPolicyOptions {
  /** Actions of the administration statement. */
  readonly adminActions: string[];
  /** Actions of the account root's lockout guard: administration without import. */
  readonly lockoutGuardActions: string[];
  /** Services through which use is allowed, as `s3`, `dynamodb`. */
  readonly viaServices?: string[];
  /** Encryption context keys every cryptographic request must carry. */
  readonly encryptionContextKeys?: string[];
  /** Deny every principal outside this organization. */
  readonly organizationId?: string;
}

/**
 * The policy model of a ClassifiedKey, written once for every home a key can have.
 *
 * Named statements (with a Sid) hold the roles the construct knows about; statements
 * added by grants have no Sid, so that the minimizing PolicyDocument folds grantees
 * with the same actions and conditions into one statement.
 */
export class KeyPolicy {
  public readonly document = new iam.PolicyDocument({ minimize: true });
  private readonly account: string;
  private readonly region: string;
  private readonly urlSuffix: string;

  constructor(private readonly scope: IConstruct, private readonly options: KeyPolicyOptions) {
    const stack = Stack.of(scope);
    this.account = stack.account;
    this.region = stack.region;
    // The region's domain suffix from aws-cdk-lib's region facts, so that conditions
    // read plainly in the template; a token only for region-agnostic stacks.
    this.urlSuffix = (!Token.isUnresolved(this.region) && RegionInfo.get(this.region).domainSuffix) || stack.urlSuffix;

    this.document.addStatements(new iam.PolicyStatement({
      sid: 'AccountLockoutGuard',
      principals: [new iam.AccountRootPrincipal()],
      actions: options.lockoutGuardActions,
      resources: ['*'],
    }));
    // Control Tower CT.KMS.PR.3 checks for exactly this statement: nobody, whatever
    // their identity policies, creates a grant on the key unless an AWS service
    // integrated with KMS creates it for its resource, or is itself the caller.
    // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
    this.document.addStatements(new iam.PolicyStatement({
      sid: 'DenyGrantsNotForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }));
    if (options.organizationId !== undefined) {
      this.document.addStatements(new iam.PolicyStatement({
        sid: 'DenyOutsideOrganization',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:*'],
        resources: ['*'],
        conditions: {
          StringNotEqualsIfExists: { 'aws:PrincipalOrgID': options.organizationId },
          BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' },
        },
      }));
    }
  }

  /**
   * The key's own administrator. With `requireMfa` its sessions must have signed in
   * with MFA: the allow asks for it, and a deny stops the same sessions from reaching
   * administration through the account root's lockout guard without it.
   */
  public addAdministrator(principal: iam.IPrincipal, requireMfa: boolean): void {
    this.document.addStatements(new iam.PolicyStatement({
      sid: 'KeyAdministration',
      principals: [principal],
      actions: this.options.adminActions,
      resources: ['*'],
      conditions: requireMfa ? { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } : undefined,
    }));
    if (requireMfa) {
      this.document.addStatements(new iam.PolicyStatement({
        sid: 'DenyAdministrationWithoutMfa',
        effect: iam.Effect.DENY,
        principals: [principal],
        actions: this.options.adminActions,
        resources: ['*'],
        conditions: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
      }));
    }
  }

  /** Administration handed out with `grantAdmin`: the admin role's actions, no conditions. */
  public administrationStatements(principal: iam.IPrincipal): iam.PolicyStatement[] {
    return [this.allow(principal, this.options.adminActions, {})];
  }

  /**
   * The key's own user: every action of the key's usage, under the configured
   * conditions, and grants for AWS resources.
   */
  public addUser(principal: iam.IPrincipal, usageActions: string[]): void {
    this.addNamed('KeyUsage', this.usageParts(principal, [...usageActions, ...GRANTS_FOR_AWS_RESOURCES]));
  }

  /** Cryptography for the account root, when the user opts in. */
  public addAccountRootUsage(usageActions: string[]): void {
    this.addNamed('AccountRootUsage', this.usageParts(new iam.AccountRootPrincipal(), usageActions));
  }

  /** The statements that let a principal use the key for some actions. */
  public usageStatements(principal: iam.IPrincipal, actions: string[]): iam.PolicyStatement[] {
    const parts = this.usageParts(principal, actions);
    return [parts.plain, parts.withContext, parts.grants].filter((s): s is iam.PolicyStatement => s !== undefined);
  }

  /**
   * Splits a principal's use by the conditions that narrow it: actions that carry an
   * encryption context get the context condition, grant management gets
   * `kms:GrantIsForAWSResource`, and all of them get `kms:ViaService` when configured.
   */
  private usageParts(principal: iam.IPrincipal, actions: string[]): UsageParts {
    const contextKeys = this.options.encryptionContextKeys ?? [];
    const grantActions = actions.filter(a => GRANTS_FOR_AWS_RESOURCES.includes(a));
    const useActions = actions.filter(a => !GRANTS_FOR_AWS_RESOURCES.includes(a));
    const withContext = contextKeys.length > 0 ? useActions.filter(a => TAKES_ENCRYPTION_CONTEXT.includes(a)) : [];
    const plain = useActions.filter(a => !withContext.includes(a));

    const via = this.viaServiceConditions();
    const contextPresent = Object.fromEntries(contextKeys.map(key => [`kms:EncryptionContext:${key}`, 'false']));
    return {
      plain: plain.length > 0 ? this.allow(principal, plain, via) : undefined,
      withContext: withContext.length > 0 ? this.allow(principal, withContext, { ...via, Null: contextPresent }) : undefined,
      grants: grantActions.length > 0
        ? this.allow(principal, grantActions, { ...via, Bool: { 'kms:GrantIsForAWSResource': 'true' } })
        : undefined,
    };
  }

  private addNamed(sid: string, parts: UsageParts): void {
    const named: Array<[string, iam.PolicyStatement | undefined]> = [
      [sid, parts.plain],
      [`${sid}WithEncryptionContext`, parts.withContext],
      ['GrantsForAwsResources', parts.grants],
    ];
    for (const [name, statement] of named) {
      if (!statement) continue;
      statement.sid = name;
      this.document.addStatements(statement);
    }
  }

  /**
   * An estimate of the rendered policy's size in bytes, where each reference that is
   * only known at deploy time (a role ARN, the account) counts as a 128-character ARN.
   *
   * A first estimate renders the statements as they were added; only when that one
   * is over the limit is the policy resolved and minimized (which merges grantees),
   * because resolving every key policy twice would double the cost of synthesis.
   */
  public estimateSize(): number {
    const quick = sizeWithPlaceholders(this.document.toJSON());
    if (quick <= KEY_POLICY_MAX_BYTES) return quick;
    return sizeWithPlaceholders(Stack.of(this.scope).resolve(this.document));
  }

  public validateSize(): string[] {
    const size = this.estimateSize();
    return size > KEY_POLICY_MAX_BYTES
      ? [`key policy is about ${size} bytes, more than the ${KEY_POLICY_MAX_BYTES}-byte limit of KMS: grant a role or group shared by the grantees instead of each grantee`]
      : [];
  }

  private allow(principal: iam.IPrincipal, actions: string[], conditions: Conditions): iam.PolicyStatement {
    return new iam.PolicyStatement({
      principals: [principal],
      actions,
      resources: ['*'],
      conditions: Object.keys(conditions).length > 0 ? conditions : undefined,
    });
  }

  private viaServiceConditions(): Conditions {
    const services = this.options.viaServices;
    if (!services) return {};
    return {
      StringEquals: {
        'kms:ViaService': services.map(service => `${service}.${this.region}.${this.urlSuffix}`),
        'kms:CallerAccount': this.account,
      },
    };
  }
}

const ARN_PLACEHOLDER = 'x'.repeat(128);

/** The JSON size of a policy, with every token or intrinsic counted as an ARN. */
function sizeWithPlaceholders(policy: unknown): number {
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

interface UsageParts {
  readonly plain?: iam.PolicyStatement;
  readonly withContext?: iam.PolicyStatement;
  readonly grants?: iam.PolicyStatement;
}

/** Whether two principals are the same, including two references to one role. */
export function samePrincipal(scope: IConstruct, a: iam.IPrincipal, b: iam.IPrincipal): boolean {
  if (a === b) return true;
  const stack = Stack.of(scope);
  const render = (p: iam.IPrincipal) => JSON.stringify(stack.resolve(p.policyFragment.principalJson));
  return render(a) === render(b);
}
