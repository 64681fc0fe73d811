import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { GRANTS_FOR_AWS_RESOURCES, TAKES_ENCRYPTION_CONTEXT } from './actions';
import { exceptGrantCreator, grantsNotForAwsResourcesDeny } from './grant-creators';
import { Conditions, Grantee, GranteeKind } from './grantee';
import { LockoutGuard } from './lockout-guard';
import { NetworkPerimeter, networkPerimeterStatement } from './network-perimeter';
import { mergeConditions } from './policy-conditions';
import { validatePolicySize } from './policy-size';
import { assertNotHolder, denySeparatedDuties, LibraryAdministration, SeparatedRoles, wildcardHolders } from './separation-of-duties';
import { logGroupKeyStatement, PolicyPlace, TopicPublisher, topicPublisherStatement } from './service-statements';
import { domainSuffixOf } from './stack-strings';

/** What shapes a key policy. Decided by ClassifiedKey, rendered here. */
export interface KeyPolicyOptions {
  /** Actions of the administration statement. */
  readonly adminActions: string[];
  /** Actions of the account root's lockout guard: administration without import or policy changes. */
  readonly lockoutGuardActions: string[];
  /**
   * The principals, besides the key's administrators and the account's root user,
   * that may manage the key and change its policy through the account (the lockout
   * guard): the deploy role (CloudFormation creates, tags, updates and deletes the key
   * and writes its policy), a home's handler.
   */
  readonly policyWriters: string[];
  /**
   * Principals, by ARN, named in the policy-change statement itself, not only through
   * the account: whoever creates the key (a handler), which KMS's lockout check at
   * CreateKey must find allowed by the key policy alone.
   */
  readonly namedPolicyWriters?: string[];
  /** Actions only the key's administrators have, never the account root: material import. */
  readonly administratorOnlyActions?: string[];
  /** Services through which use is allowed, as `s3`, `dynamodb`. */
  readonly viaServices?: string[];
  /** Encryption context keys every cryptographic request must carry. */
  readonly encryptionContextKeys?: string[];
  /** Deny every principal outside this organization. */
  readonly organizationId?: string;
  /** Deny direct calls from outside these endpoints and VPCs. */
  readonly networkPerimeter?: NetworkPerimeter;
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
  /** Conditions aws-cdk-lib constructs add to a grant's principal statement, to carry over. */
  private readonly narrowings: Array<{ from: iam.PolicyStatement; to: iam.PolicyStatement[] }> = [];
  private separation?: () => SeparatedRoles;
  /** The allows of administration this class writes and whom they allow, recorded as each is made: all the deny leaves out. */
  private readonly administration: LibraryAdministration = { statements: [], holders: [] };
  /** The account root's statements, shared with the key's administrators. */
  private readonly guard: LockoutGuard;
  private renderedOnce = false;
  /** The CT.KMS.PR.3 deny, the network perimeter's, and who creates grants for principals (KeyGrant handlers). */
  private readonly grantDeny: iam.PolicyStatement;
  private perimeterStatement?: iam.PolicyStatement;
  private readonly grantCreators: string[] = [];
  private readonly account: string;
  private readonly region: string;
  private readonly urlSuffix: string;

  constructor(private readonly scope: IConstruct, private readonly options: KeyPolicyOptions) {
    const stack = Stack.of(scope);
    this.account = stack.account;
    this.region = stack.region;
    // The region's domain suffix from aws-cdk-lib's region facts, so that conditions
    // read plainly in the template; a token only for region-agnostic stacks.
    this.urlSuffix = (!Token.isUnresolved(this.region) && domainSuffixOf(this.region)) || stack.urlSuffix;

    this.guard = new LockoutGuard(stack, this.document, options);
    this.administration.statements.push(this.guard.administration, this.guard.policyChanges);
    this.grantDeny = grantsNotForAwsResourcesDeny();
    this.document.addStatements(this.grantDeny);
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
    if (options.networkPerimeter !== undefined) {
      this.perimeterStatement = networkPerimeterStatement(options.networkPerimeter, options.policyWriters);
      this.document.addStatements(this.perimeterStatement);
    }
  }

  /** A KeyGrant's handler, allowed exactly its grants, which the grant deny and the perimeter except. */
  public addGrantCreator(creatorArn: string, statements: iam.PolicyStatement[]): Pick<KeyPolicyOptions, 'viaServices' | 'encryptionContextKeys'> {
    exceptGrantCreator(this.grantCreators, creatorArn, this.grantDeny, this.perimeterStatement, this.options.policyWriters);
    this.document.addStatements(...statements);
    return { viaServices: this.options.viaServices, encryptionContextKeys: this.options.encryptionContextKeys };
  }

  /** The services the key's use is limited to, when configured. */
  public get viaServices(): string[] | undefined {
    return this.options.viaServices;
  }

  /**
   * Carries the conditions later added to `from` (a grant's principal statement)
   * over to `to` (the grant's key policy statements) when the policy is rendered.
   */
  public narrowWith(from: iam.PolicyStatement, to: iam.PolicyStatement[]): void {
    this.narrowings.push({ from, to });
  }

  /**
   * Denies, when the policy is rendered, cryptography to the key's administrators and
   * administration to its users: the separation then holds against any IAM policy.
   */
  public separateRoles(roles: () => SeparatedRoles): void {
    this.separation = roles;
  }

  /** Whether the policy has been rendered: a role made after it would be missing from it. */
  public get rendered(): boolean {
    return this.renderedOnce;
  }

  /** The policy document, with every grant's narrowing applied. */
  public render(): iam.PolicyDocument {
    this.renderedOnce = true;
    if (this.separation) {
      const roles = this.separation();
      this.separation = undefined;
      denySeparatedDuties(this.document, roles, { statements: this.administration.statements, holders: this.holders() });
    }
    for (const { from, to } of this.narrowings.splice(0)) {
      const conditions = from.conditions;
      if (Object.keys(conditions).length === 0) continue;
      for (const statement of to) statement.addConditions(conditions);
    }
    return this.document;
  }

  /**
   * An administrator: the admin role, or a `grantAdmin` grantee. With `requireMfa`
   * its sessions must have signed in with MFA: the allow asks for it, and a deny
   * stops the same sessions from reaching administration through the account root's
   * lockout guard without it. `holderArns` names whom the allow is for, by
   * `aws:PrincipalArn`, where the principal does not (a role of another stack).
   */
  public administrationStatements(principal: iam.IPrincipal, requireMfa: boolean, holderArns?: string[]): iam.PolicyStatement[] {
    const statements = [this.allow(principal, this.options.adminActions,
      requireMfa ? { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } : {})];
    this.administration.statements.push(statements[0]);
    this.administration.holders.push(...(holderArns ?? principal.policyFragment.principalJson.AWS ?? []));
    if (requireMfa) {
      statements.push(new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [principal],
        actions: this.options.adminActions,
        resources: ['*'],
        conditions: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
      }));
    }
    return statements;
  }

  /**
   * The key's own administrator. Without an MFA condition it joins the account
   * root's administration statement and the policy writers, and alone imports
   * material; with one it has statements of its own.
   */
  public addAdministrator(principal: iam.IPrincipal, requireMfa: boolean): void {
    if (requireMfa) {
      const [allow, deny] = this.administrationStatements(principal, true);
      allow.sid = 'KeyAdministrationWithMfa';
      deny.sid = 'DenyAdministrationWithoutMfa';
      this.document.addStatements(allow, deny);
      return;
    }
    this.guard.admit(principal);
    const only = this.options.administratorOnlyActions ?? [];
    if (only.length > 0) {
      const materialImport = new iam.PolicyStatement({ sid: 'KeyMaterialImport', principals: [principal], actions: only, resources: ['*'] });
      this.administration.statements.push(materialImport);
      this.document.addStatements(materialImport);
    }
  }

  /**
   * Administration that only some principals may do, under conditions of its own:
   * replicating a multi-Region key (`kms:ReplicaRegion`) and moving its primary
   * (`kms:PrimaryRegion`). Never through the account root's lockout guard. The key's
   * administrator, when it takes part, gets it with MFA where its other
   * administration needs MFA; the principals named by ARN get it as they are.
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-auth.html
   */
  public addRestrictedAdministration(statement: RestrictedAdministration, administrator: iam.IPrincipal, requireMfa: boolean): void {
    const named = (statement.principalArns ?? []).map(arn => new iam.ArnPrincipal(arn));
    const make = (sid: string, who: iam.IPrincipal[], conditions: Conditions) => {
      const allow = new iam.PolicyStatement({ sid, principals: who, actions: statement.actions, resources: ['*'], conditions });
      this.administration.statements.push(allow);
      this.administration.holders.push(...who.flatMap(p => p.policyFragment.principalJson.AWS ?? []));
      return allow;
    };
    const withAdministrator = statement.administrator ? [administrator] : [];
    if (!requireMfa || withAdministrator.length === 0) {
      this.document.addStatements(make(statement.sid, [...withAdministrator, ...named], statement.conditions));
      return;
    }
    this.document.addStatements(make(`${statement.sid}WithMfa`, withAdministrator,
      mergeConditions(statement.conditions, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } })));
    if (named.length > 0) this.document.addStatements(make(statement.sid, named, statement.conditions));
  }

  /**
   * The key's own user: every action of the key's usage, under the configured
   * conditions, and grants for AWS resources.
   */
  public addUser(principal: iam.IPrincipal, usageActions: string[]): void {
    this.addNamed('KeyUsage', this.usageParts(principal, [...usageActions, ...GRANTS_FOR_AWS_RESOURCES], {}));
  }

  /** Cryptography for the account root, when the user opts in. */
  public addAccountRootUsage(usageActions: string[]): void {
    this.addNamed('AccountRootUsage', this.usageParts(new iam.AccountRootPrincipal(), usageActions, {}));
  }

  /**
   * The statements that let a grantee use the key for some actions.
   *
   * - A service principal gets the actions under its own conditions only
   *   (`aws:SourceArn`, `aws:SourceAccount`, its encryption context): a service
   *   acting for itself never carries `kms:ViaService`, `kms:CallerAccount` or the
   *   key's encryption context.
   * - Any other grantee gets the key's narrowing, where a grant made through one
   *   service (a `ViaServicePrincipal`) keeps that service, and a grantee of another
   *   account calls from its own account.
   */
  public usageStatements(grantee: Grantee, actions: string[]): iam.PolicyStatement[] {
    if (grantee.kind === GranteeKind.SERVICE) {
      return [this.allow(grantee.principal, actions, grantee.conditions)];
    }
    const parts = this.usageParts(grantee.principal, actions, {
      viaServices: grantee.viaServices,
      callerAccount: grantee.account,
      extra: grantee.conditions,
      withoutContext: grantee.serviceContext,
      anyRegion: grantee.viaAnyRegion,
    });
    return [parts.plain, parts.withContext, parts.grants].filter((s): s is iam.PolicyStatement => s !== undefined);
  }

  /**
   * Splits a principal's use by the conditions that narrow it: actions that carry an
   * encryption context get the context condition, grant management gets
   * `kms:GrantIsForAWSResource`, and all of them get `kms:ViaService` when configured.
   */
  private usageParts(principal: iam.IPrincipal, actions: string[], grant: GrantNarrowing): UsageParts {
    const contextKeys = grant.withoutContext ? [] : this.options.encryptionContextKeys ?? [];
    const grantActions = actions.filter(a => GRANTS_FOR_AWS_RESOURCES.includes(a));
    const useActions = actions.filter(a => !GRANTS_FOR_AWS_RESOURCES.includes(a));
    const withContext = contextKeys.length > 0 ? useActions.filter(a => TAKES_ENCRYPTION_CONTEXT.includes(a)) : [];
    const plain = useActions.filter(a => !withContext.includes(a));

    const base = mergeConditions(
      this.viaServiceConditions(grant.viaServices ?? this.options.viaServices, grant.callerAccount, grant.anyRegion ?? false),
      grant.extra ?? {},
    );
    const contextPresent = Object.fromEntries(contextKeys.map(key => [`kms:EncryptionContext:${key}`, 'false']));
    return {
      plain: plain.length > 0 ? this.allow(principal, plain, base) : undefined,
      withContext: withContext.length > 0 ? this.allow(principal, withContext, mergeConditions(base, { Null: contextPresent })) : undefined,
      grants: grantActions.length > 0
        ? this.allow(principal, grantActions, mergeConditions(base, { Bool: { 'kms:GrantIsForAWSResource': 'true' } }))
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
   * CloudWatch Logs encrypting and reading log groups: one, by its ARN in the
   * encryption context, or, without a name known at synth, every log group of the
   * account in the region.
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
   */
  public logGroupStatement(logGroupName: string | undefined): iam.PolicyStatement {
    return logGroupKeyStatement(this.place(), logGroupName);
  }

  /**
   * An AWS service publishing to a topic encrypted with the key, for resources of
   * this account (`aws:SourceAccount`) and of its kind (`aws:SourceArn`), as SNS
   * documents for event sources of AWS services.
   * @see https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
   */
  public publisherStatement(publisher: TopicPublisher): iam.PolicyStatement {
    return topicPublisherStatement(this.place(), publisher);
  }

  /** The stack's partition, Region and account, and the Region's domain suffix, for service statements. */
  private place(): PolicyPlace {
    return { partition: Stack.of(this.scope).partition, region: this.region, account: this.account, urlSuffix: this.urlSuffix };
  }

  /** Refuses a policy over the KMS limit (warns near it), or whose managers' ARNs hold wildcards. */
  public validate(): string[] {
    return [...wildcardHolders(Stack.of(this.scope), this.holders()), ...validatePolicySize(this.scope, this.render())];
  }

  /** Refuses use to a principal that manages the key: see assertNotHolder. */
  public assertNotManager(method: string, principal: iam.IPrincipal): void {
    assertNotHolder(Stack.of(this.scope), method, principal, this.holders());
  }

  /** Who manages the key, by ARN: the lockout guard's writers and the library's allows of administration. */
  private holders = () => [...this.guard.policyWriters, ...this.administration.holders];

  private allow(principal: iam.IPrincipal, actions: string[], conditions: Conditions): iam.PolicyStatement {
    return new iam.PolicyStatement({
      principals: [principal],
      actions,
      resources: ['*'],
      conditions: Object.keys(conditions).length > 0 ? conditions : undefined,
    });
  }

  /**
   * Use only through the services, from the caller's account: the key's own, unless
   * the grantee is of another account (whose principals call from there).
   */
  private viaServiceConditions(services: string[] | undefined, callerAccount: string | undefined, anyRegion: boolean): Conditions {
    if (!services) return {};
    const otherAccount = callerAccount !== undefined && !Token.isUnresolved(callerAccount)
      && !Token.isUnresolved(this.account) && callerAccount !== this.account;
    const caller = { 'kms:CallerAccount': otherAccount ? callerAccount : this.account };
    if (anyRegion) {
      // As DynamoDB documents for global tables, whose replicas call from their Regions.
      // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
      return {
        StringLike: { 'kms:ViaService': services.map(service => `${service}.*.${this.urlSuffix}`) },
        StringEquals: caller,
      };
    }
    const endpoints = services.map(service => `${service}.${this.region}.${this.urlSuffix}`);
    return { StringEquals: { 'kms:ViaService': endpoints, ...caller } };
  }
}

/** Administration allowed to some principals only, under conditions. */
export interface RestrictedAdministration {
  readonly sid: string;
  readonly actions: string[];
  readonly conditions: Conditions;
  /** Whether the key's own administrator may. */
  readonly administrator: boolean;
  /** Other principals that may, by ARN: deploy roles, another member's admin role. */
  readonly principalArns?: string[];
}

/** How a grant narrows its own use, beyond the key's configuration. */
interface GrantNarrowing {
  /** The services the grant is limited to, instead of the key's. */
  readonly viaServices?: string[];
  /** The grantee's account, when it is another. */
  readonly callerAccount?: string;
  /** Conditions the grantee carries. */
  readonly extra?: Conditions;
  /** Leave out the key's encryption context condition. */
  readonly withoutContext?: boolean;
  /** The services may call from any Region. */
  readonly anyRegion?: boolean;
}

interface UsageParts {
  readonly plain?: iam.PolicyStatement;
  readonly withContext?: iam.PolicyStatement;
  readonly grants?: iam.PolicyStatement;
}
