import { createHash } from 'crypto';
import { Duration, RemovalPolicy, Resource, Stack, Tags, Token, TokenComparison } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ClassificationRules, DataClassification, rulesFor } from './classification';
import { KeyAuditTrail } from './key-audit-trail';
import * as actions from './private/actions';
import { AuditEvent, KEY_DENIED_REQUESTS, KEY_POLICY_OR_GRANT_CHANGES, KEY_STATE_CHANGES } from './private/audit-events';
import { createKeyAlarms } from './private/key-alarms';
import { KeyPolicy, samePrincipal } from './private/key-policy';
import { acknowledgeImportedMaterial } from './private/nag';
import {
  deriveAlias,
  resolveKeyUsage,
  resolveRotation,
  validateAlias,
  validateContextKeys,
  validateDaysRange,
  validateDescription,
  validateOrganizationId,
  validateServiceNames,
  validateTagValue,
} from './private/validation';

/**
 * Properties of a ClassifiedKey.
 */
export interface ClassifiedKeyProps {
  /**
   * How sensitive the protected data is. Drives rotation, who may use the key, MFA
   * for administrators and the `data-classification` tag.
   */
  readonly classification: DataClassification;

  /**
   * The key's alias, `alias/` followed by letters, digits, `:`, `/`, `_` or `-`.
   *
   * @default - `alias/<classification>/<stack name>/<construct path>`
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/alias-about.html
   */
  readonly alias?: string;

  /**
   * A description of the key, at most 8192 characters.
   *
   * @default - names the classification and the construct path
   */
  readonly description?: string;

  /**
   * The kind of key material. Changing it replaces the key.
   *
   * @default kms.KeySpec.SYMMETRIC_DEFAULT
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/key-types.html
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * What the key is for. Required for key specs that support several usages (RSA,
   * ECC NIST, SM2); otherwise the spec's only usage. Changing it replaces the key.
   *
   * @default - the key spec's only usage
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * The role that administers the key: it can manage the key and cannot use it.
   * For CONFIDENTIAL and RESTRICTED keys an adopted role's trust policy is not ours
   * to change, so the key policy requires MFA of its sessions instead.
   *
   * @default - a new role, trusted by `adminRoleAssumedBy`
   */
  readonly adminRole?: iam.IRole;

  /**
   * The role that uses the key: it can use the key and cannot manage it.
   *
   * @default - a new role, trusted by `userRoleAssumedBy`
   */
  readonly userRole?: iam.IRole;

  /**
   * Who may assume the admin role the construct creates. For CONFIDENTIAL and
   * RESTRICTED keys the trust policy also requires MFA, so this must be a principal
   * that can present it (not a service).
   *
   * @default - IAM principals of this account that their own policies allow
   */
  readonly adminRoleAssumedBy?: iam.IPrincipal;

  /**
   * Who may assume the user role the construct creates.
   *
   * @default - IAM principals of this account that their own policies allow
   */
  readonly userRoleAssumedBy?: iam.IPrincipal;

  /**
   * Services through which the key may be used, by name (`s3`, `dynamodb`,
   * `secretsmanager`): use is allowed only with `kms:ViaService` set to one of them
   * in this stack's region, from this account.
   *
   * @default - use is not limited to services (required for RESTRICTED unless
   * `encryptionContextKeys` is given)
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
   */
  readonly viaServices?: string[];

  /**
   * Encryption context keys that every request that carries an encryption context
   * must include. Only for symmetric encryption keys.
   *
   * @default - no encryption context is required
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
   */
  readonly encryptionContextKeys?: string[];

  /**
   * Deny every principal outside this AWS Organizations organization (`o-...`).
   * AWS services acting for a principal are not affected.
   *
   * @default - no organization guard
   */
  readonly organizationId?: string;

  /**
   * How often KMS rotates a symmetric key, 90 to 2560 days. For CONFIDENTIAL and
   * RESTRICTED keys the classification's period is also the longest allowed.
   *
   * @default - the classification's period: 365 days (PUBLIC, INTERNAL), 180 days
   * (CONFIDENTIAL), 90 days (RESTRICTED)
   */
  readonly rotationPeriod?: Duration;

  /**
   * Whether KMS rotates the key automatically. Only symmetric keys with KMS-made
   * material rotate; asking for it on any other key is an error. It may be turned
   * off only for PUBLIC and INTERNAL keys.
   *
   * @default - true for symmetric keys with KMS-made material, false otherwise
   */
  readonly enableKeyRotation?: boolean;

  /**
   * How long KMS waits before deleting the key once deletion is scheduled, 7 to 30
   * days.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to the key when it leaves the stack. Keys are kept unless you opt
   * in; even with DESTROY, KMS waits the pending window before deleting.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Make a key with no material (origin EXTERNAL) for you to import your own
   * (BYOK). Only the key's administrators may import or delete the material.
   * Changing it replaces the key.
   *
   * @default false
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html
   */
  readonly importKeyMaterial?: boolean;

  /**
   * Let IAM policies in this account grant use of the key, by allowing the key's
   * cryptographic actions to the account root. Only PUBLIC and INTERNAL keys may.
   *
   * @default false
   */
  readonly allowAccountRootCryptography?: boolean;

  /**
   * The team that owns the key, written to the `owner` tag.
   *
   * @default - no owner tag
   */
  readonly owner?: string;

  /**
   * Compliance frameworks the key is in scope of (`pci-dss`, `hipaa`), written
   * space-separated to the `compliance-scope` tag.
   *
   * @default - no compliance-scope tag
   */
  readonly complianceScopes?: string[];

  /**
   * The audit trail whose metric filters count this key's events.
   *
   * @default - the stack's trail, `KeyAuditTrail.of(stack)`, created on first use
   */
  readonly auditTrail?: KeyAuditTrail;

  /**
   * The topic this key's alarms notify.
   *
   * @default - the audit trail's alarm topic
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Whether the key is watched by the audit trail and alarmed. Only PUBLIC and
   * INTERNAL keys may go unwatched.
   *
   * @default true
   */
  readonly monitoring?: boolean;
}

/**
 * A KMS key with a data classification, classification-driven defaults and a
 * least-privilege key policy with separated roles:
 *
 * - the admin role manages the key and cannot use it;
 * - the user role uses the key for its usage only, and cannot manage it;
 * - the account root may only administer the key (a guard against lockout that lets
 *   IAM-authorized administrators and CloudFormation manage it), never use it unless
 *   you opt in for PUBLIC or INTERNAL data.
 *
 * Grant methods add the grantee to the key policy, so a consumer such as
 * `bucket.grantRead(role)` leaves the role able to use the key.
 *
 * @resource AWS::KMS::Key
 */
export class ClassifiedKey extends Resource implements kms.IKey {
  /** Tag key of the data classification, on every taggable resource the construct creates. */
  public static readonly CLASSIFICATION_TAG = 'data-classification';
  /** Tag key of the owning team. */
  public static readonly OWNER_TAG = 'owner';
  /** Tag key of the compliance frameworks in scope. */
  public static readonly COMPLIANCE_SCOPE_TAG = 'compliance-scope';

  /** The key's ARN. */
  public readonly keyArn: string;
  /** The key's ID. */
  public readonly keyId: string;
  /** The key's data classification. */
  public readonly classification: DataClassification;
  /** The key spec. */
  public readonly keySpec: kms.KeySpec;
  /** The key usage. */
  public readonly keyUsage: kms.KeyUsage;
  /** The role that administers the key and cannot use it. */
  public readonly adminRole: iam.IRole;
  /** The role that uses the key and cannot administer it. */
  public readonly userRole: iam.IRole;
  /** The key's primary alias. */
  public readonly alias: kms.IAlias;
  /** Whether KMS rotates the key automatically. */
  public readonly rotationEnabled: boolean;
  /** The rotation period in days, when the key rotates. */
  public readonly rotationPeriodDays?: number;
  /** The audit trail that watches the key, unless monitoring is off. */
  public readonly auditTrail?: KeyAuditTrail;
  /**
   * The key's alarms: `StateAlarm` (disabled, deletion scheduled, rotation off,
   * imported material deleted or expiring) and, from INTERNAL up, `AccessAlarm` (key
   * policy or grant changes; denied-request spikes for CONFIDENTIAL and RESTRICTED).
   * Empty when monitoring is off. Add actions or put them on a dashboard.
   */
  public readonly alarms: cloudwatch.IAlarm[];

  private readonly rules: ClassificationRules;
  private readonly profile: actions.UsageProfile;
  private readonly policy: KeyPolicy;
  private readonly extraAliases = new Map<string, kms.Alias>();
  /** Principals that administer the key; none of them may use it. */
  private readonly administrators: iam.IPrincipal[] = [];
  /** Principals that use the key; none of them may administer it. */
  private readonly users: iam.IPrincipal[] = [];

  constructor(scope: Construct, id: string, props: ClassifiedKeyProps) {
    super(scope, id);

    this.classification = props.classification;
    this.rules = rulesFor(props.classification);
    this.keySpec = props.keySpec ?? kms.KeySpec.SYMMETRIC_DEFAULT;
    this.keyUsage = resolveKeyUsage(this.keySpec, props.keyUsage);
    this.profile = actions.usageProfile(this.keySpec, this.keyUsage);
    const symmetric = this.keySpec === kms.KeySpec.SYMMETRIC_DEFAULT;
    const imported = props.importKeyMaterial ?? false;

    validateDescription(props.description);
    validateOrganizationId(props.organizationId);
    validateServiceNames(props.viaServices);
    validateContextKeys(props.encryptionContextKeys);
    validateTagValue('owner', props.owner);
    const complianceScope = props.complianceScopes?.join(' ');
    for (const scopeName of props.complianceScopes ?? []) {
      validateTagValue('complianceScopes', scopeName);
      if (/\s/.test(scopeName)) {
        throw new Error(`complianceScopes entries must not contain spaces (they are joined with one), got "${scopeName}"`);
      }
    }
    validateTagValue('complianceScopes', complianceScope);

    if (props.encryptionContextKeys && !(symmetric && this.keyUsage === kms.KeyUsage.ENCRYPT_DECRYPT)) {
      throw new Error(`encryptionContextKeys apply only to symmetric encryption keys, got keySpec ${this.keySpec}`);
    }
    if (this.rules.usageMustBeNarrowed && !props.viaServices && !props.encryptionContextKeys) {
      throw new Error(
        `viaServices or encryptionContextKeys is required for a ${this.classification} key, got neither`,
      );
    }
    if (props.allowAccountRootCryptography && !this.rules.rootCryptographyAllowed) {
      throw new Error(
        `allowAccountRootCryptography must not be true for a ${this.classification} key: its use must be granted by the key policy`,
      );
    }

    // Only symmetric keys with KMS-made material rotate.
    const rotatable = symmetric && !imported;
    const rotation = resolveRotation({
      classification: this.classification,
      rules: this.rules,
      rotatable,
      why: imported ? 'a key with imported material' : `keySpec ${this.keySpec}`,
      enableKeyRotation: props.enableKeyRotation,
      rotationPeriod: props.rotationPeriod,
    });
    this.rotationEnabled = rotation.enabled;
    this.rotationPeriodDays = rotation.periodDays;

    const pendingWindowDays = validateDaysRange('pendingWindow', props.pendingWindow, 7, 30) ?? 30;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const monitoring = props.monitoring ?? true;
    if (!monitoring && !this.rules.monitoringMayBeDisabled) {
      throw new Error(`monitoring must not be false for a ${this.classification} key`);
    }
    if (!monitoring && (props.auditTrail || props.alarmTopic)) {
      throw new Error('auditTrail and alarmTopic must not be given when monitoring is false');
    }
    if (removalPolicy === RemovalPolicy.SNAPSHOT) {
      throw new Error('removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a KMS key, got SNAPSHOT');
    }

    const stack = Stack.of(this);
    const aliasName = props.alias ?? deriveAlias([
      this.rules.tagValue, stack.stackName, ...this.node.scopes.slice(this.node.scopes.indexOf(stack) + 1).map(s => s.node.id),
    ]);
    validateAlias('alias', aliasName);

    // Roles: the admin manages, the user uses; never the same principal.
    if (props.adminRole && props.userRole && samePrincipal(this, props.adminRole, props.userRole)) {
      throw new Error(`adminRole and userRole must be different roles, got ${props.adminRole.node.path} for both`);
    }
    const requireMfa = this.rules.adminRequiresMfa;
    this.adminRole = props.adminRole ?? new iam.Role(this, 'AdminRole', {
      assumedBy: this.adminTrust(props.adminRoleAssumedBy ?? new iam.AccountRootPrincipal(), requireMfa),
      description: `Administers ${this.node.path} (${this.classification}); cannot use it`,
    });
    this.userRole = props.userRole ?? new iam.Role(this, 'UserRole', {
      assumedBy: props.userRoleAssumedBy ?? new iam.AccountRootPrincipal(),
      description: `Uses ${this.node.path} (${this.classification}); cannot administer it`,
    });

    // The key policy.
    const adminActions = [
      ...actions.ADMIN,
      ...(rotatable ? actions.ADMIN_ROTATION : []),
      ...(imported ? actions.ADMIN_IMPORT : []),
    ];
    this.policy = new KeyPolicy(this, {
      adminActions,
      lockoutGuardActions: adminActions.filter(a => !actions.ADMIN_IMPORT.includes(a)),
      viaServices: props.viaServices,
      encryptionContextKeys: props.encryptionContextKeys,
      organizationId: props.organizationId,
    });
    this.policy.addAdministrator(this.adminRole, requireMfa && props.adminRole !== undefined);
    this.policy.addUser(this.userRole, this.profile.all);
    this.administrators.push(this.adminRole);
    this.users.push(this.userRole);
    if (props.allowAccountRootCryptography) {
      this.policy.addAccountRootUsage(this.profile.all);
    }
    this.node.addValidation({ validate: () => this.policy.validateSize() });

    const resource = new kms.CfnKey(this, 'Resource', {
      description: props.description
        ?? `${this.classification} key ${this.node.path}, managed by cdk-kms-constructs`,
      keyPolicy: this.policy.document,
      keySpec: this.keySpec,
      keyUsage: this.keyUsage,
      origin: imported ? 'EXTERNAL' : undefined,
      enableKeyRotation: this.rotationEnabled,
      rotationPeriodInDays: this.rotationPeriodDays,
      pendingWindowInDays: pendingWindowDays,
    });
    resource.applyRemovalPolicy(removalPolicy);
    if (imported) acknowledgeImportedMaterial(resource);

    this.keyArn = resource.attrArn;
    this.keyId = resource.attrKeyId;
    this.alias = new kms.Alias(this, 'Alias', { aliasName, targetKey: this });

    // Monitoring: the stack's audit trail counts this key's events; its alarms
    // notify the key's topic or the trail's.
    this.auditTrail = monitoring ? props.auditTrail ?? KeyAuditTrail.of(this) : undefined;
    if (this.auditTrail) assertSameEnvironment(this, this.auditTrail);
    const alarms = this.auditTrail
      ? createKeyAlarms(this, {
        eventMetric: event => this.auditMetric(event),
        expiryMetric: () => this.metricSecondsUntilKeyMaterialExpiration(),
      }, { rules: this.rules, importedMaterial: imported, keyName: this.node.path })
      : [];
    for (const alarm of alarms) this.auditTrail!._notify(alarm, props.alarmTopic);
    this.alarms = alarms;

    Tags.of(this).add(ClassifiedKey.CLASSIFICATION_TAG, this.rules.tagValue);
    if (props.owner !== undefined) Tags.of(this).add(ClassifiedKey.OWNER_TAG, props.owner);
    if (complianceScope !== undefined) Tags.of(this).add(ClassifiedKey.COMPLIANCE_SCOPE_TAG, complianceScope);
  }

  /** The key's ARN and ID, as other L1 and L2 constructs reference it. */
  public get keyRef(): kms.KeyReference {
    return { keyArn: this.keyArn, keyId: this.keyId };
  }

  /**
   * Times the key was disabled, scheduled for deletion, had rotation turned off or
   * its imported material deleted, counted from the audit trail (sum over 5 minutes).
   */
  public metricStateChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric(KEY_STATE_CHANGES, props);
  }

  /**
   * Key policy changes and grants created or revoked outside AWS services, counted
   * from the audit trail (sum over 5 minutes).
   */
  public metricPolicyOrGrantChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric(KEY_POLICY_OR_GRANT_CHANGES, props);
  }

  /** Requests to the key that KMS denied, counted from the audit trail (sum over 5 minutes). */
  public metricDeniedRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric(KEY_DENIED_REQUESTS, props);
  }

  /**
   * KMS's own metric of seconds left until imported key material expires (minimum
   * over 5 minutes). KMS publishes it only for keys with expiring imported material.
   */
  public metricSecondsUntilKeyMaterialExpiration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/KMS',
      metricName: 'SecondsUntilKeyMaterialExpiration',
      dimensionsMap: { KeyId: this.keyId },
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * Adds another alias for the key.
   *
   * @param aliasName `alias/` followed by letters, digits, `:`, `/`, `_` or `-`
   */
  public addAlias(aliasName: string): kms.Alias {
    validateAlias('aliasName', aliasName);
    const existing = this.extraAliases.get(aliasName);
    if (existing) return existing;
    const id = `Alias${createHash('sha256').update(aliasName).digest('hex').slice(0, 8)}`;
    const alias = new kms.Alias(this, id, { aliasName, targetKey: this });
    this.extraAliases.set(aliasName, alias);
    return alias;
  }

  /**
   * Adds a statement to the key policy. This is the escape hatch: the statement is
   * added as given, except that it may not give cryptography to an administrator
   * (the admin role or a `grantAdmin` grantee).
   */
  public addToResourcePolicy(statement: iam.PolicyStatement, _allowNoOp?: boolean): iam.AddToResourcePolicyResult {
    const admin = this.administrators.find(a => statement.principals.some(p => samePrincipal(this, p, a)));
    if (admin && statement.effect === iam.Effect.ALLOW
      && statement.actions.some(a => actions.expandAction(a).some(x => actions.ALL_CRYPTOGRAPHIC.includes(x)))) {
      throw new Error(
        `addToResourcePolicy must not give cryptographic actions to ${this.describePrincipal(admin, this.adminRole, 'the admin role', 'a principal that administers the key')}, got ${statement.actions.join(', ')}`,
      );
    }
    this.policy.document.addStatements(statement);
    return { statementAdded: true, policyDependable: this };
  }

  /**
   * Lets a principal use the key for the given actions. The actions must belong to
   * the key's usage (wildcards such as `kms:GenerateDataKey*` are expanded); grant
   * management is limited to grants for AWS resources.
   */
  public grant(grantee: iam.IGrantable, ...actionPatterns: string[]): iam.Grant {
    return this.grantUsage('grant', grantee, this.checkUsageActions(actionPatterns));
  }

  /** Lets a principal encrypt with the key (symmetric or asymmetric encryption keys). */
  public grantEncrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantEncrypt', grantee, this.profile.encrypt);
  }

  /** Lets a principal decrypt with the key (symmetric or asymmetric encryption keys). */
  public grantDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantDecrypt', grantee, this.profile.decrypt);
  }

  /** Lets a principal encrypt and decrypt with the key. */
  public grantEncryptDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantEncryptDecrypt', grantee, [...this.profile.encrypt, ...this.profile.decrypt]);
  }

  /** Lets a principal sign with the key (SIGN_VERIFY keys). */
  public grantSign(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantSign', grantee, this.profile.sign);
  }

  /** Lets a principal verify signatures with the key (SIGN_VERIFY keys). */
  public grantVerify(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantVerify', grantee, this.profile.verify);
  }

  /** Lets a principal sign and verify with the key (SIGN_VERIFY keys). */
  public grantSignVerify(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantSignVerify', grantee, [...this.profile.sign, ...this.profile.verify]);
  }

  /** Lets a principal generate MACs with the key (HMAC keys). */
  public grantGenerateMac(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantGenerateMac', grantee, this.profile.generateMac);
  }

  /** Lets a principal verify MACs with the key (HMAC keys). */
  public grantVerifyMac(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantVerifyMac', grantee, this.profile.verifyMac);
  }

  /** Lets a principal derive shared secrets with the key (KEY_AGREEMENT keys). */
  public grantDeriveSharedSecret(grantee: iam.IGrantable): iam.Grant {
    return this.grantPart('grantDeriveSharedSecret', grantee, this.profile.deriveSharedSecret);
  }

  /**
   * Lets a principal administer the key: the same actions as the admin role, and
   * no cryptography. The user role cannot be made an administrator.
   */
  public grantAdmin(grantee: iam.IGrantable): iam.Grant {
    const principal = grantee.grantPrincipal;
    const user = this.users.find(u => samePrincipal(this, u, principal));
    if (user) {
      throw new Error(
        `grantAdmin must not be given ${this.describePrincipal(user, this.userRole, 'the user role', 'a principal that uses the key')}: users of the key cannot administer it`,
      );
    }
    this.administrators.push(principal);
    return this.grantOnKey(grantee, this.policy.administrationStatements(principal));
  }

  private grantPart(method: string, grantee: iam.IGrantable, parts: string[]): iam.Grant {
    if (parts.length === 0) {
      throw new Error(
        `${method} is not available on a ${this.keyUsage} key (keySpec ${this.keySpec}): grant what the key's usage allows`,
      );
    }
    return this.grantUsage(method, grantee, actions.unique([...actions.DESCRIBE, ...parts]));
  }

  /**
   * Adds the grantee to the key policy, under the key's conditions. A grantee in
   * another account also needs an identity policy there, which is added when the
   * grantee is part of this app.
   */
  private grantUsage(method: string, grantee: iam.IGrantable, granted: string[]): iam.Grant {
    const principal = grantee.grantPrincipal;
    const admin = this.administrators.find(a => samePrincipal(this, a, principal));
    if (admin) {
      throw new Error(
        `${method} must not be given ${this.describePrincipal(admin, this.adminRole, 'the admin role', 'a principal that administers the key')}: administrators manage the key and cannot use it, got ${granted.join(', ')}`,
      );
    }
    this.users.push(principal);
    return this.grantOnKey(grantee, this.policy.usageStatements(principal, granted));
  }

  /**
   * Adds a grant's statements to the key policy. A grantee in another account also
   * needs an identity policy there, which is added when the grantee is in this app.
   */
  private grantOnKey(grantee: iam.IGrantable, statements: iam.PolicyStatement[]): iam.Grant {
    const grants = statements.map(statement => iam.Grant.addStatementToResourcePolicy({
      grantee, actions: statement.actions, resourceArns: [this.keyArn], resource: this, statement,
    }));
    const principalAccount = grantee.grantPrincipal.principalAccount;
    if (principalAccount !== undefined
      && Token.compareStrings(principalAccount, this.env.account) === TokenComparison.DIFFERENT) {
      const granted = actions.unique(statements.flatMap(s => s.actions));
      grants.push(iam.Grant.addToPrincipal({ grantee, actions: granted, resourceArns: [this.keyArn] }));
    }
    return grants.reduce((all, g) => all.combine(g));
  }

  private describePrincipal(principal: iam.IPrincipal, role: iam.IRole, roleName: string, other: string): string {
    return samePrincipal(this, principal, role) ? `${roleName} ${role.node.path}` : `${other} (${principal})`;
  }

  /**
   * Expands the actions asked of `grant` and checks that each belongs to the key's
   * usage, or is grant management (allowed for AWS resources only).
   */
  private checkUsageActions(patterns: string[]): string[] {
    if (patterns.length === 0) {
      throw new Error('grant needs at least one action, got none');
    }
    const allowed = [...this.profile.all, ...actions.GRANTS_FOR_AWS_RESOURCES];
    const result: string[] = [];
    for (const pattern of patterns) {
      const expanded = actions.expandAction(pattern);
      if (expanded.length === 0) {
        throw new Error(`grant got an action that is not a KMS key action: "${pattern}"`);
      }
      const administrative = expanded.filter(a => actions.ALL_ADMINISTRATIVE.includes(a));
      if (administrative.length > 0) {
        throw new Error(
          `grant must not give administrative actions, got "${pattern}" (${administrative.join(', ')}): use grantAdmin`,
        );
      }
      const foreign = expanded.filter(a => !allowed.includes(a));
      // A wildcard may match actions of other usages; only an exact action must fit.
      const fitting = expanded.filter(a => allowed.includes(a));
      if (foreign.length > 0 && (!pattern.includes('*') || fitting.length === 0)) {
        throw new Error(
          `grant got "${pattern}", which a ${this.keyUsage} key (keySpec ${this.keySpec}) does not support: it allows ${allowed.join(', ')}`,
        );
      }
      result.push(...fitting);
    }
    return actions.unique(result);
  }

  private auditMetric(event: AuditEvent, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (!this.auditTrail) {
      throw new Error(`${event.metricName} is counted by the audit trail, and monitoring is off for ${this.node.path}`);
    }
    return this.auditTrail._keyMetric(event, this.keyArn, props);
  }

  private adminTrust(principal: iam.IPrincipal, requireMfa: boolean): iam.IPrincipal {
    if (!requireMfa) return principal;
    if ('Service' in principal.policyFragment.principalJson) {
      throw new Error(
        `adminRoleAssumedBy must be a principal that can sign in with MFA for a ${this.classification} key, got service principal ${principal}`,
      );
    }
    return new iam.PrincipalWithConditions(principal, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } });
  }
}


/**
 * Alarms read metrics of their own account and region, so a key's audit trail must
 * be in the key's.
 */
function assertSameEnvironment(key: ClassifiedKey, trail: KeyAuditTrail): void {
  const keyStack = Stack.of(key);
  const trailStack = Stack.of(trail);
  for (const part of ['account', 'region'] as const) {
    if (Token.compareStrings(keyStack[part], trailStack[part]) === TokenComparison.DIFFERENT) {
      throw new Error(
        `auditTrail must be in the key's ${part}: the key is in ${keyStack[part]}, the trail ${trail.node.path} in ${trailStack[part]}`,
      );
    }
  }
}
