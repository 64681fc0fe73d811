import { createHash } from 'crypto';
import { CfnResource, Duration, Lazy, Reference, Tokenization, RemovalPolicy, Resource, Stack, Tags, Token, TokenComparison } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct, IDependable } from 'constructs';
import * as actions from './actions';
import { ClassificationRules, DataClassification, rulesFor } from './classification';
import { ConsumerRegistry } from './consumer-registry';
import { creationActions, creationUses, encryptionUse } from './consumers';
import { addStackDependency } from './dependencies';
import { Grantee, granteeOf, GranteeKind, splitPrincipal } from './grantee';
import { IDENTITY_POLICY_TYPES, identityGrantsOf, targetOf } from './identity-grants';
import { KEY_HOME, KeyHome, STANDARD_HOME } from './key-home';
import { KeyPolicy, mergeConditions, samePrincipal, TOPIC_PUBLISHERS } from './key-policy';
import { adminPrincipal, deployRoleArnOf, hasMfaInTrust, sharedAdminRole } from './key-roles';
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
  claimAlias,
  validateTagValue,
} from './validation';
import { AuditEvent, KEY_ALIAS_CHANGES, KEY_DENIED_REQUESTS, KEY_POLICY_OR_GRANT_CHANGES, KEY_STATE_CHANGES } from '../audit/audit-events';
import { createKeyAlarms } from '../audit/key-alarms';
import { KeyAuditTrail } from '../audit/key-audit-trail';
import { acknowledgeImportedMaterial } from '../nag';

const IS_CLASSIFIED_KEY = Symbol.for('cdk-kms-constructs.ClassifiedKey');

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
   * @default - the admin role of the stack's keys of this classification (and
   * `adminRoleAssumedBy`), created by the first of them, named after its construct
   * path and Region
   */
  readonly adminRole?: iam.IRole;

  /**
   * The role that uses the key: it can use the key and cannot manage it.
   *
   * @default - a role of the key's own, trusted by `userRoleAssumedBy`, made when
   * `key.userRole` is first read or `userRoleAssumedBy` is given; none otherwise
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
   * Services KMS integrates with that this library does not list yet, by name, to
   * accept in `viaServices` as given. A name in `viaServices` that is no service would
   * leave the key unusable through it, so unknown names are errors unless named here.
   *
   * @default - `viaServices` may name only the services the library lists
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/service-integration.html
   */
  readonly extraViaServiceNames?: string[];

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
   * AWS services calling KMS as themselves (service principals) are exempt; a
   * service acting for a principal (through `kms:ViaService`) is held to that
   * principal's organization.
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
   * The role that creates the resources the key encrypts (a DynamoDB table, a
   * secret, a volume) and so calls KMS through their service while creating them.
   * It gets only the calls each service documents at creation, only through the
   * services the key is used with, never administration.
   *
   * The key policy also names it as a role that may change the key policy, since
   * CloudFormation updates the policy as this role.
   *
   * @default - the CloudFormation execution role of the stack's synthesizer
   * (`DefaultStackSynthesizer`); required with a synthesizer that has none
   */
  readonly deployRole?: iam.IRole;

  /**
   * The audit trail whose metric filters count this key's events.
   *
   * @default - the trail of the key's account and Region, `KeyAuditTrail.of(this)`,
   * created on first use
   */
  readonly auditTrail?: KeyAuditTrail;

  /**
   * The topic the key's own alarm notifies: CONFIDENTIAL and RESTRICTED keys alarm on
   * denied requests. The trail's shared alarms notify the trail's topic; an error
   * for a key without an alarm of its own.
   *
   * @default - the audit trail's alarm topic
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Whether the key registers with the audit trail of its account and Region
   * (creating it if needed) and gets the alarms of its classification. Only PUBLIC
   * and INTERNAL keys may go without. The trail's shared alarms watch every key of
   * their account and Region, so where a trail exists they watch this one too.
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

  /** Whether a value is a ClassifiedKey, of this copy of the library or another. */
  public static isClassifiedKey(x: unknown): x is ClassifiedKey {
    return typeof x === 'object' && x !== null && IS_CLASSIFIED_KEY in x;
  }

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
  /** The role that administers the key and cannot use it; by default shared by the stack's keys of its classification. */
  public readonly adminRole: iam.IRole;
  /** The key's primary alias. */
  public readonly alias: kms.IAlias;
  /** Whether KMS rotates the key automatically. */
  public readonly rotationEnabled: boolean;
  /** The rotation period in days, when the key rotates. */
  public readonly rotationPeriodDays?: number;
  /** The audit trail that watches the key, unless monitoring is off. */
  public readonly auditTrail?: KeyAuditTrail;
  /**
   * The alarms that watch the key: the audit trail's shared alarms, in which each key
   * is a contributor (state changes, policy or grant changes, and for imported
   * material its expiry), and for CONFIDENTIAL and RESTRICTED keys its own
   * `DeniedRequestsAlarm`. An action added to a shared alarm serves every key. Empty
   * when monitoring is off.
   */
  public readonly alarms: cloudwatch.IAlarm[];

  private readonly rules: ClassificationRules;
  private readonly userRoleProps: { role?: iam.IRole; assumedBy?: iam.IPrincipal };
  private userRoleValue?: iam.IRole;
  private readonly profile: actions.UsageProfile;
  private readonly policy: KeyPolicy;
  private readonly extraAliases = new Map<string, kms.Alias>();
  /** Principals that administer the key; none of them may use it. */
  private readonly administrators: iam.IPrincipal[] = [];
  /** Principals that use the key; none of them may administer it. */
  private readonly users: iam.IPrincipal[] = [];
  private readonly allowAccountRootCryptography: boolean;
  private readonly deployRoleProp?: iam.IRole;
  private deployPrincipal?: iam.IPrincipal;
  private readonly consumers: ConsumerRegistry;
  /** The roles and users of the app the key policy names, with what it allows them. */
  private readonly namedGrants = new Map<IConstruct, { use: Set<string>; admin: boolean }>();
  private readonly adminActions: string[];
  private learned = false;
  /** Whether the key is a member of a multi-Region key: resources of other Regions may name it. */
  private readonly multiRegion: boolean;
  /** The key policy, for statements the grant methods have already checked. */
  private readonly ownPolicy: iam.IResourceWithPolicyV2 = {
    env: this.env,
    addToResourcePolicy: (statement: iam.PolicyStatement) => {
      this.policy.document.addStatements(statement);
      return { statementAdded: true, policyDependable: this };
    },
  };

  constructor(scope: Construct, id: string, props: ClassifiedKeyProps) {
    super(scope, id);
    Object.defineProperty(this, IS_CLASSIFIED_KEY, { value: true });

    // Where the key's material lives (this library's multi-Region and HSM keys choose
    // theirs); checked first, so a home's refusal names the prop.
    const home: KeyHome = (props as { [KEY_HOME]?: KeyHome })[KEY_HOME] ?? STANDARD_HOME;
    home.check(props);
    this.classification = props.classification;
    this.rules = rulesFor(props.classification);
    this.keySpec = props.keySpec ?? kms.KeySpec.SYMMETRIC_DEFAULT;
    this.keyUsage = resolveKeyUsage(this.keySpec, props.keyUsage);
    this.profile = actions.usageProfile(this.keySpec, this.keyUsage);
    const symmetric = this.keySpec === kms.KeySpec.SYMMETRIC_DEFAULT;
    const imported = props.importKeyMaterial ?? false;
    this.multiRegion = home.multiRegionPrimary || home.cfnType === 'AWS::KMS::ReplicaKey';

    validateDescription(props.description);
    validateOrganizationId(props.organizationId);
    validateServiceNames(props.viaServices, props.extraViaServiceNames);
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
        `allowAccountRootCryptography must not be true for a ${this.classification} key: its use must be granted by the key policy, got true`,
      );
    }

    // Only symmetric keys with KMS-made material rotate; a replica as its primary does;
    // keys in a CloudHSM key store never.
    const rotatable = symmetric && !imported && home.materialRotates;
    const rotation = resolveRotation({
      classification: this.classification,
      rules: this.rules,
      rotatable,
      why: imported ? 'a key with imported material' : !home.materialRotates ? 'a key in a CloudHSM key store' : `keySpec ${this.keySpec}`,
      enableKeyRotation: props.enableKeyRotation,
      rotationPeriod: props.rotationPeriod,
    });
    this.rotationEnabled = rotation.enabled;
    this.rotationPeriodDays = rotation.periodDays;

    const pendingWindowDays = validateDaysRange('pendingWindow', props.pendingWindow, 7, 30) ?? 30;
    this.allowAccountRootCryptography = props.allowAccountRootCryptography ?? false;
    this.deployRoleProp = props.deployRole;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const monitoring = props.monitoring ?? true;
    if (!monitoring && !this.rules.monitoringMayBeDisabled) {
      throw new Error(`monitoring must not be false for a ${this.classification} key, got false`);
    }
    if (!monitoring && (props.auditTrail || props.alarmTopic)) {
      throw new Error(`auditTrail and alarmTopic must not be given when monitoring is false, got ${[props.auditTrail && `auditTrail ${props.auditTrail.node.path}`, props.alarmTopic && `alarmTopic ${props.alarmTopic.node.path}`].filter(Boolean).join(' and ')}`);
    }
    if (removalPolicy === RemovalPolicy.SNAPSHOT) {
      throw new Error('removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a KMS key, got SNAPSHOT');
    }

    const stack = Stack.of(this);
    const aliasName = props.alias ?? deriveAlias([
      this.rules.tagValue, stack.stackName, ...this.node.scopes.slice(this.node.scopes.indexOf(stack) + 1).map(s => s.node.id),
    ]);
    validateAlias('alias', aliasName);
    claimAlias(stack, aliasName, this.node.path);

    // Roles: the admin manages, the user uses; never the same principal.
    if (props.adminRole && props.userRole && samePrincipal(this, props.adminRole, props.userRole)) {
      throw new Error(`adminRole and userRole must be different roles, got ${props.adminRole.node.path} for both`);
    }
    const requireMfa = this.rules.adminRequiresMfa;
    this.adminRole = props.adminRole ?? sharedAdminRole(this, this.classification, this.rules, props.adminRoleAssumedBy);
    this.userRoleProps = { role: props.userRole, assumedBy: props.userRoleAssumedBy };

    // The key policy.
    const adminActions = [
      ...actions.ADMIN,
      ...(rotatable && home.setsRotation ? actions.ADMIN_ROTATION : []),
      ...(imported ? actions.ADMIN_IMPORT : []),
    ];
    this.adminActions = adminActions;
    this.policy = new KeyPolicy(this, {
      adminActions,
      lockoutGuardActions: adminActions.filter(a => !actions.ADMIN_IMPORT.includes(a) && a !== 'kms:PutKeyPolicy'),
      policyWriters: [this.deployRoleArn(), ...home.policyWriters],
      namedPolicyWriters: home.policyWriters,
      administratorOnlyActions: imported ? actions.ADMIN_IMPORT : [],
      viaServices: props.viaServices,
      encryptionContextKeys: props.encryptionContextKeys,
      organizationId: props.organizationId,
    });
    // A role this library made requires MFA in its trust; another must in the key policy.
    const admin = adminPrincipal(this.adminRole);
    const adminNeedsMfa = requireMfa && !hasMfaInTrust(this.adminRole);
    this.policy.addAdministrator(admin.principal, adminNeedsMfa);
    for (const statement of home.administration) this.policy.addRestrictedAdministration(statement, admin.principal, adminNeedsMfa);
    this.administrators.push(this.adminRole);
    this.recordGrant(this.adminRole, 'admin');
    // The user role is made when asked for (or given): keys used only by their
    // consumers and grantees have none.
    if (props.userRole || props.userRoleAssumedBy) this.makeUserRole();
    if (props.allowAccountRootCryptography) {
      this.policy.addAccountRootUsage(this.profile.all);
    }
    // aws-cdk-lib's grants on the L1 (KeyGrants.fromKey(cfnKey), as BucketGrants and
    // TableGrants of L1 resources call it) come to this key's checks too.
    iam.ResourceWithPolicies.register(this, home.cfnType, { forResource: () => this });
    // Explicit denies keep the roles apart even against IAM policies, which the
    // lockout guard would otherwise let manage the key, or use it with the opt-in.
    this.policy.separateRoles(
      () => this.namedPrincipals(this.administrators.map(a => (a instanceof iam.Role ? adminPrincipal(a).principal : a))),
      () => this.namedPrincipals(this.users.filter(u => u !== this.deployPrincipal)),
    );
    // Once the app is complete: what the resources that name the key need of it.
    this.consumers = ConsumerRegistry.of(this);
    this.node.addValidation({ validate: () => this.learnConsumers() });
    this.node.addValidation({ validate: () => this.policy.validateSize() });

    const { resource, keyArn, keyId } = home.create(this, {
      description: props.description
        ?? `${this.classification} key ${this.node.path}, managed by cdk-kms-constructs`,
      // Rendered when the template is: consumers' grants may narrow it until then.
      keyPolicy: Lazy.any({ produce: () => this.policy.render() }),
      keySpec: this.keySpec,
      keyUsage: this.keyUsage,
      imported,
      enableKeyRotation: this.rotationEnabled,
      rotationPeriodInDays: this.rotationPeriodDays,
      pendingWindowInDays: pendingWindowDays,
    });
    resource.applyRemovalPolicy(removalPolicy);
    // KMS refuses a policy that names a role before it exists. On the role alone: its
    // policies may name the key.
    if (admin.named) resource.node.addDependency(this.adminRole.node.defaultChild!);
    if (imported) acknowledgeImportedMaterial(resource);

    this.keyArn = keyArn;
    this.keyId = keyId;
    this.alias = new kms.Alias(this, 'Alias', { aliasName, targetKey: this });

    // Monitoring: the audit trail of the account and Region counts this key's events; its alarms
    // notify the key's topic or the trail's.
    this.auditTrail = monitoring ? props.auditTrail ?? KeyAuditTrail.of(this) : undefined;
    if (this.auditTrail) assertSameEnvironment(this, this.auditTrail);
    const own = this.auditTrail
      ? createKeyAlarms(this, { rules: this.rules, keyName: this.node.path, eventMetric: event => this.auditMetric(event) })
      : [];
    if (props.alarmTopic && own.length === 0) {
      throw new Error(`alarmTopic is notified by the key's own alarm, which only CONFIDENTIAL and RESTRICTED keys have (denied requests); the trail's shared alarms notify the trail's alarmTopic, got ${props.alarmTopic.node.path} for a ${this.classification} key`);
    }
    for (const alarm of own) this.auditTrail!._notify(alarm, props.alarmTopic);
    this.alarms = this.auditTrail ? [...this.auditTrail._sharedAlarmsFor(imported), ...own] : [];

    Tags.of(this).add(ClassifiedKey.CLASSIFICATION_TAG, this.rules.tagValue);
    if (props.owner !== undefined) Tags.of(this).add(ClassifiedKey.OWNER_TAG, props.owner);
    if (complianceScope !== undefined) Tags.of(this).add(ClassifiedKey.COMPLIANCE_SCOPE_TAG, complianceScope);
  }

  /**
   * The role that uses the key and cannot administer it: `userRole`, or a role made
   * on first use, trusted by `userRoleAssumedBy`. A key nobody reads this of has no
   * user role; its consumers and grantees use it.
   */
  public get userRole(): iam.IRole {
    return this.makeUserRole();
  }

  private makeUserRole(): iam.IRole {
    if (!this.userRoleValue && this.policy.rendered) {
      throw new Error(
        `userRole of ${this.node.path} was first read after its key policy was rendered (the app is being or has been synthesized), so the role would be in neither the template nor the policy: read it before synthesis, or give userRoleAssumedBy`,
      );
    }
    if (!this.userRoleValue) {
      const role = this.userRoleProps.role ?? new iam.Role(this, 'UserRole', {
        assumedBy: this.userRoleProps.assumedBy ?? new iam.AccountRootPrincipal(),
        description: `Uses ${this.node.path} (${this.classification}); cannot administer it`,
      });
      this.userRoleValue = role;
      this.policy.addUser(role, this.profile.all);
      this.users.push(role);
      this.recordGrant(role, this.profile.all);
    }
    return this.userRoleValue;
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
   * Key policy changes, revoked grants and grants created outside AWS services, counted
   * from the audit trail (sum over 5 minutes).
   */
  public metricPolicyOrGrantChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric(KEY_POLICY_OR_GRANT_CHANGES, props);
  }

  /**
   * Aliases of the key created, moved or deleted, and its tags changed, counted from
   * the audit trail (sum over 5 minutes).
   */
  public metricAliasOrTagChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric(KEY_ALIAS_CHANGES, props);
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
    claimAlias(Stack.of(this), aliasName, this.node.path);
    const id = `Alias${createHash('sha256').update(aliasName).digest('hex').slice(0, 8)}`;
    const alias = new kms.Alias(this, id, { aliasName, targetKey: this });
    this.extraAliases.set(aliasName, alias);
    return alias;
  }

  /**
   * Adds a statement to the key policy.
   *
   * A plain grant, as aws-cdk-lib's `KeyGrants` facade writes one (allow, KMS actions,
   * IAM principals, no condition), goes through the grant methods and their checks:
   * `grantAdmin` for administration, `grant` for use. Anything else is the escape
   * hatch, added as given, except that it may not give cryptography to an
   * administrator nor administration to a user of the key.
   */
  public addToResourcePolicy(statement: iam.PolicyStatement, _allowNoOp?: boolean): iam.AddToResourcePolicyResult {
    if (isPlainGrant(statement)) {
      const expanded = statement.actions.flatMap(a => actions.expandAction(a));
      const administrative = expanded.some(a => actions.ALL_ADMINISTRATIVE.includes(a));
      // KeyGrants.admin asks kms:Create*, which also matches CreateGrant: use is what
      // encrypts, decrypts, signs or derives.
      if (administrative && expanded.some(a => actions.ALL_CRYPTOGRAPHIC.includes(a) && a !== 'kms:CreateGrant')) {
        throw new Error(
          `addToResourcePolicy must not give one principal both administration and cryptography, got ${statement.actions.join(', ')} for ${statement.principals.join(', ')}: use grantAdmin and grant* for different principals`,
        );
      }
      for (const principal of statement.principals) {
        if (administrative) {
          this.grantAdmin({ grantPrincipal: principal });
        } else {
          this.grant({ grantPrincipal: principal }, ...statement.actions);
        }
      }
      return { statementAdded: true, policyDependable: this };
    }
    if (statement.effect === iam.Effect.ALLOW) {
      const expanded = statement.actions.flatMap(a => actions.expandAction(a));
      const cryptographic = expanded.some(x => actions.ALL_CRYPTOGRAPHIC.includes(x));
      if (statement.notPrincipals.length > 0) {
        throw new Error(`addToResourcePolicy must not allow with NotPrincipal, got ${statement.notPrincipals.join(', ')}: it allows every principal but those`);
      }
      for (const principal of statement.principals) {
        const view = granteeOf(this, principal);
        this.assertPrincipalKind('addToResourcePolicy', principal, view);
        const mayBeRoot = view.kind === GranteeKind.ACCOUNT || view.kind === GranteeKind.UNRESOLVED;
        if (cryptographic && mayBeRoot && !this.allowAccountRootCryptography) {
          throw new Error(
            `addToResourcePolicy must not give cryptographic actions to ${view.kind === GranteeKind.ACCOUNT ? 'an account\'s root' : 'a principal whose ARN is known only at deploy time'} (${principal}) `
            + `on a ${this.classification} key${this.rules.rootCryptographyAllowed ? ' without allowAccountRootCryptography' : ''}: it would let every IAM principal of the account use the key; grant the roles that use it, by name`,
          );
        }
      }
      const admin = this.administrators.find(a => statement.principals.some(p => this.sameIdentity(p, a)));
      if (admin && cryptographic) {
        throw new Error(
          `addToResourcePolicy must not give cryptographic actions to ${this.describePrincipal(admin, this.adminRole, 'the admin role', 'a principal that administers the key')}, got ${statement.actions.join(', ')}`,
        );
      }
      const user = this.users.find(u => statement.principals.some(p => this.sameIdentity(p, u)));
      if (user && expanded.some(x => actions.ALL_ADMINISTRATIVE.includes(x))) {
        throw new Error(
          `addToResourcePolicy must not give administrative actions to ${this.describePrincipal(user, this.userRoleValue, 'the user role', 'a principal that uses the key')}, got ${statement.actions.join(', ')}`,
        );
      }
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
    const parts = splitPrincipal(principal);
    if (parts.length > 1) return parts.map(part => this.grantAdmin({ grantPrincipal: part })).reduce((all, g) => all.combine(g));
    const user = this.users.find(u => this.sameIdentity(u, principal));
    if (user) {
      throw new Error(
        `grantAdmin must not be given ${this.describePrincipal(user, this.userRoleValue, 'the user role', 'a principal that uses the key')}: users of the key cannot administer it`,
      );
    }
    const view = granteeOf(this, principal);
    this.assertPrincipalKind('grantAdmin', principal, view);
    if (view.kind === GranteeKind.ACCOUNT || view.kind === GranteeKind.UNRESOLVED) {
      throw new Error(
        `grantAdmin must be given a role or user by name, got ${view.kind === GranteeKind.ACCOUNT ? 'an account\'s root' : 'a principal whose ARN is known only at deploy time'} (${principal}): `
        + 'administration through an account root reaches every IAM principal of the account that IAM allows kms:*; the account\'s root user and the deploy role manage the key already',
      );
    }
    const crossStack = this.crossStackGrantee('grantAdmin', principal, view);
    if (crossStack) {
      // Named by its literal ARN, as for use: see crossStackGrantee.
      this.administrators.push(new iam.ArnPrincipal(crossStack.arn));
      this.recordGrant(principal, 'admin', crossStack.target);
      const statements = this.policy.administrationStatements(crossStack.view.principal, this.rules.adminRequiresMfa);
      for (const statement of statements) statement.addConditions({ ArnEquals: { 'aws:PrincipalArn': crossStack.arn } });
      return this.grantOnKey(grantee, statements, true);
    }
    this.administrators.push(principal);
    this.recordGrant(principal, 'admin');
    return this.grantOnKey(grantee, this.policy.administrationStatements(principal, this.rules.adminRequiresMfa));
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
   * Adds the grantee to the key policy, under the key's conditions, as the kind of
   * principal it is: see `KeyPolicy.usageStatements`, and `grantToAccount` for an
   * account root.
   */
  private grantUsage(method: string, grantee: iam.IGrantable, granted: string[]): iam.Grant {
    const principal = grantee.grantPrincipal;
    // A composite principal is one grant per principal it names, each checked alone.
    const parts = splitPrincipal(principal);
    if (parts.length > 1) return parts.map(part => this.grantUsage(method, { grantPrincipal: part }, granted)).reduce((all, g) => all.combine(g));
    this.assertNotAdministrator(method, principal, granted);
    const view = granteeOf(this, principal);
    this.assertPrincipalKind(method, principal, view);
    switch (view.kind) {
      case GranteeKind.UNRESOLVED:
        if (!this.rules.rootCryptographyAllowed) {
          throw new Error(
            `${method} must be given a principal whose ARN is known at synth for a ${this.classification} key (a role or user of the app, or a literal role or user ARN), `
            + `got ${principal}: a value known only at deploy time (a parameter, an import) may be an account's root, which would let every IAM principal of the account use the key`,
          );
        }
        break;
      case GranteeKind.ACCOUNT:
        return this.grantToAccount(method, grantee, view, granted);
      case GranteeKind.SERVICE:
        this.users.push(principal);
        return this.grantOnKey(grantee, this.policy.usageStatements(this.scopeService(view), granted));
      case GranteeKind.NAMED: {
        this.assertOwnServices(method, view);
        const crossStack = this.crossStackGrantee(method, principal, view);
        if (crossStack) {
          this.users.push(new iam.ArnPrincipal(crossStack.arn));
          this.recordGrant(principal, granted, crossStack.target);
          return this.grantOnKey(grantee, this.policy.usageStatements(crossStack.view, granted), true);
        }
        break;
      }
    }
    this.users.push(principal);
    this.recordGrant(principal, granted);
    return this.grantOnKey(grantee, this.policy.usageStatements(view, granted));
  }

  /** Records which role or user of the app a grant names, and what for: see `unhonoured`. */
  private recordGrant(principal: iam.IPrincipal, actionsOrAdmin: string[] | 'admin', target?: IConstruct): void {
    const named = target ?? targetOf(principal.policyFragment.principalJson.AWS?.[0] ?? '');
    if (!named) return;
    const entry = this.namedGrants.get(named) ?? { use: new Set<string>(), admin: false };
    if (actionsOrAdmin === 'admin') entry.admin = true;
    else for (const action of actionsOrAdmin) entry.use.add(action);
    this.namedGrants.set(named, entry);
  }

  /**
   * What an identity policy allows a role, user or group on the key that the key
   * policy does not: reading the key's settings is delegated to IAM; everything else
   * only as the key policy names the principal.
   */
  private unhonoured(principal: IConstruct, allowed: string[]): string[] {
    const entry = principal instanceof iam.CfnGroup ? undefined : this.namedGrants.get(principal);
    return allowed.filter(action => !actions.SETTINGS_READS.includes(action)
      && !entry?.use.has(action) && !(entry?.admin && this.adminActions.includes(action)));
  }

  /**
   * A role of another stack of the app. The key's stack must not reference it: the
   * other stack references the key, so the stacks would depend on each other, and
   * KMS refuses a policy that names a role before it exists. So the key policy names
   * the role's account and, by its literal ARN, the role in `aws:PrincipalArn`, and
   * the role gets an identity policy too, as KMS then requires. The role must have a
   * name: naming it here would replace it if it is deployed.
   */
  private crossStackGrantee(
    method: string, principal: iam.IPrincipal, view: Grantee,
  ): { arn: string; view: Grantee; target: IConstruct } | undefined {
    // The principal may wrap the role (a ViaServicePrincipal of secret.grantRead): the
    // role is what its ARN references.
    const arn = principal.policyFragment.principalJson.AWS?.[0];
    if (arn === undefined || !Token.isUnresolved(arn)) return undefined;
    const target = Tokenization.reverseString(arn).tokens.find((t): t is Reference => t instanceof Reference)?.target;
    if (target === undefined || Stack.of(target) === Stack.of(this)) return undefined;
    const role = target.node.scope;
    if (!(role instanceof iam.Role) || !(target instanceof iam.CfnRole)) {
      throw new Error(
        `${method} must be given a role to grant a principal of another stack (${target.node.path}): the key policy names it by ARN, which needs the role's name`,
      );
    }
    const cfnRole = target;
    // An unnamed L2 role's name is a token that renders as nothing. Naming it here
    // would replace a role that is already deployed (a new ARN and unique ID), and
    // break whatever outside the app refers to it: the user names it, knowingly.
    if (cfnRole.roleName === undefined || Stack.of(role).resolve(cfnRole.roleName) === undefined) {
      throw new Error(
        `${method} must be given a role of another stack that has a roleName, got ${role.node.path} without one: the key policy names a role of another stack by its ARN. `
        + 'Give the role a roleName (a role already deployed without one is then replaced: a new ARN, so plan it), or grant a role of the key\'s own stack',
      );
    }
    if (Token.isUnresolved(cfnRole.roleName)) {
      throw new Error(
        `${method} must be given a role of another stack whose roleName is known at synth, got ${role.node.path} named by a value known only at deploy time`,
      );
    }
    const account = Stack.of(role).account;
    const literalArn = Stack.of(this).formatArn({
      service: 'iam', region: '', account, resource: 'role', resourceName: `${(cfnRole.path ?? '/').replace(/^\//, '')}${cfnRole.roleName}`,
    });
    return {
      arn: literalArn,
      target: cfnRole,
      view: {
        ...view,
        principal: new iam.AccountPrincipal(account),
        account,
        conditions: mergeConditions(view.conditions, { ArnEquals: { 'aws:PrincipalArn': literalArn } }),
      },
    };
  }

  /**
   * A grant to an account's root lets every IAM principal of that account use the
   * key. It stands only for PUBLIC and INTERNAL keys that opt in with
   * `allowAccountRootCryptography`. Otherwise a grant to this account's root through
   * a service, as aws-cdk-lib consumers make for the resources they create (a
   * secret, a volume), becomes what creating the resource needs: the deploy role's
   * creation calls through that service. Users of the resource get the key by their
   * own grants, by name.
   */
  private grantToAccount(method: string, grantee: iam.IGrantable, view: Grantee, granted: string[]): iam.Grant {
    const otherAccount = view.account !== undefined
      && Token.compareStrings(view.account, this.env.account) === TokenComparison.DIFFERENT;
    if (this.allowAccountRootCryptography || (otherAccount && this.rules.rootCryptographyAllowed)) {
      return this.grantOnKey(grantee, this.policy.usageStatements(view, granted));
    }
    if (otherAccount) {
      throw new Error(
        `${method} must not be given the root of account ${view.account} for a ${this.classification} key: grant the roles of that account that use the key, by name`,
      );
    }
    if (!view.viaServices || view.viaServices.length === 0) {
      throw new Error(
        `${method} must not be given the account root (${grantee.grantPrincipal}) for a ${this.classification} key${this.rules.rootCryptographyAllowed ? ' without allowAccountRootCryptography' : ''}: grant the roles that use the key, by name`,
      );
    }
    const deployer = this.deployRole();
    const statements = view.viaServices.flatMap(service => {
      const creation = creationActions(service);
      const actionsForCreation = creation ? granted.filter(a => creation.includes(a)) : granted;
      if (actionsForCreation.length === 0) return [];
      const creator: Grantee = {
        ...view, kind: GranteeKind.NAMED, principal: deployer, account: undefined, viaServices: [service], serviceContext: true,
      };
      return this.policy.usageStatements(creator, actionsForCreation);
    });
    if (statements.length === 0) return iam.Grant.drop(grantee, `${granted.join(', ')} through ${view.viaServices.join(', ')}`);
    return this.grantOnKey(grantee, statements);
  }

  /**
   * Adds what the resources that name the key need and aws-cdk-lib grants nothing
   * for: the deploy role's creation calls through each resource's service (a
   * DynamoDB table, a volume, an RDS instance), CloudWatch Logs for log groups, and
   * CloudWatch alarms publishing to encrypted topics. Returns what cannot be.
   */
  private learnConsumers(): string[] {
    if (this.learned) return [];
    this.learned = true;
    const errors: string[] = [];
    const given = new Set<string>();
    const once = (id: string, add: () => void) => {
      if (given.has(id)) return;
      given.add(id);
      add();
    };
    for (const { resource, property } of this.consumers.consumersOf(this.node.defaultChild as CfnResource)) {
      const where = `${resource.node.path} (${resource.cfnResourceType})`;
      if (IDENTITY_POLICY_TYPES.includes(resource.cfnResourceType)) {
        errors.push(...this.checkIdentityPolicy(resource));
        continue;
      }
      const uses = creationUses(resource.cfnResourceType, property);
      // A resource of another Region names a member of a multi-Region key set (as a
      // global table's replica): its own stack's deploy role creates it, and its stack
      // is deployed after this key's.
      const consumerStack = Stack.of(resource);
      const foreign = this.multiRegion
        && Token.compareStrings(consumerStack.region, Stack.of(this).region) === TokenComparison.DIFFERENT ? consumerStack : undefined;
      if (foreign) {
        if (dependsOn(Stack.of(this), foreign)) {
          errors.push(`the key is used by ${where}, whose stack ${foreign.node.path} is deployed before this key's stack ${Stack.of(this).node.path}, which depends on it: put the resource in a stack of its own in ${foreign.region}, which then deploys after every Region's key it names`);
          continue;
        }
        addStackDependency(foreign, Stack.of(this), `${where} uses ${this.node.path}`);
      }
      const encryption = encryptionUse(resource.cfnResourceType, property);
      if ((encryption || uses.length > 0) && (this.keySpec !== kms.KeySpec.SYMMETRIC_DEFAULT || this.keyUsage !== kms.KeyUsage.ENCRYPT_DECRYPT)) {
        errors.push(`the key is used by ${where}, which needs a symmetric encryption key, got keySpec ${this.keySpec} for ${this.keyUsage}`);
        continue;
      }
      // Its users call KMS through its service (a bucket's readers, a queue's
      // consumers), so a key narrowed to services must list it. A topic is exempt: its
      // publishers are often AWS services, which call as themselves.
      const allowedServices = this.policy.viaServices;
      if (encryption?.service && allowedServices && !allowedServices.includes(encryption.service) && resource.cfnResourceType !== 'AWS::SNS::Topic') {
        errors.push(`the key is used by ${where} through ${encryption.service}, which is not in viaServices (${allowedServices.join(', ')}): add it, or use another key`);
        continue;
      }
      for (const use of uses) {
        const allowed = this.policy.viaServices;
        if (allowed && !allowed.includes(use.service)) {
          errors.push(`the key is used by ${where} through ${use.service}, which is not in viaServices (${allowed.join(', ')}): add it, or use another key`);
          continue;
        }
        const creator = foreign ? this.foreignDeployRole(foreign, where) : this.deployRole();
        once(`${foreign?.node.path ?? ''} ${use.service} ${use.actions.join()}`, () => {
          this.policy.document.addStatements(...this.policy.usageStatements({
            kind: GranteeKind.NAMED,
            principal: creator,
            viaServices: [use.service],
            conditions: {},
            description: 'deployRole',
            serviceContext: true,
            viaAnyRegion: foreign !== undefined,
          }, use.actions));
        });
      }
      if (resource.cfnResourceType === 'AWS::Logs::LogGroup') {
        // A name known only at deploy time renders in the key policy if it renders in
        // the same template; an unnamed L2 log group's name is a token that renders as nothing.
        const name = (resource as logs.CfnLogGroup).logGroupName;
        const rendered = name === undefined ? undefined : Stack.of(resource).resolve(name);
        const named = rendered !== undefined && (typeof rendered === 'string' || Stack.of(resource) === Stack.of(this));
        if (!named && !this.rules.rootCryptographyAllowed) {
          errors.push(`the key is used by ${where}, which has no logGroupName known at synth: a ${this.classification} key lets CloudWatch Logs use it for log groups it names, so give the log group a logGroupName`);
          continue;
        }
        once(`logs ${named ? name : '*'}`, () => this.policy.document.addStatements(this.policy.logGroupStatement(named ? name : undefined)));
      }
      if (resource.cfnResourceType === 'AWS::SNS::Topic') {
        const publishing = new Set(this.consumers.consumersOf(resource).map(c => c.resource.cfnResourceType));
        for (const publisher of TOPIC_PUBLISHERS.filter(p => publishing.has(p.cfnType))) {
          once(`publisher ${publisher.servicePrincipal}`, () => this.policy.document.addStatements(this.policy.publisherStatement(publisher)));
        }
      }
    }
    return errors;
  }

  /**
   * The principal that creates the key's consumers: `deployRole`, or the
   * CloudFormation execution role of the stack's synthesizer.
   */
  private deployRole(): iam.IPrincipal {
    if (this.deployPrincipal) return this.deployPrincipal;
    const principal = this.deployRoleProp?.grantPrincipal ?? new iam.ArnPrincipal(this.deployRoleArn());
    this.assertNotAdministrator('deployRole', principal, ['the creation calls of the key\'s consumers']);
    this.users.push(principal);
    this.deployPrincipal = principal;
    return principal;
  }

  /**
   * An identity policy naming the key gives nothing the key policy does not: what it
   * allows beyond reading the key's settings must come from a grant of the key.
   */
  private checkIdentityPolicy(resource: CfnResource): string[] {
    const errors: string[] = [];
    for (const grant of identityGrantsOf(resource, this.keyArn)) {
      for (const principal of grant.principals) {
        const missing = this.unhonoured(principal, grant.actions);
        if (missing.length === 0) continue;
        const who = `${principal.node.path} (${(principal as CfnResource).cfnResourceType})`;
        const call = principal instanceof iam.CfnGroup
          ? 'a key policy cannot name an IAM group: grant its members\' roles with the key\'s grant methods'
          : missing.some(a => this.adminActions.includes(a) && !actions.ALL_CRYPTOGRAPHIC.includes(a))
            ? 'grant administration with key.grantAdmin(role)'
            : 'grant use with the key\'s grant methods (key.grantDecrypt(role), key.grant(role, ...actions)), which write the key policy';
        errors.push(
          `${who} is allowed ${missing.join(', ')} on the key by the identity policy ${resource.node.path}, which the key does not honour: `
          + `a ClassifiedKey obeys its key policy alone (kms.KeyGrants.fromKey(key) and addToPrincipalPolicy write identity policies only); ${call}`,
        );
      }
    }
    return errors;
  }

  /** The deploy role of another stack of a multi-Region key set, which creates a resource there that uses this key. */
  private foreignDeployRole(stack: Stack, where: string): iam.IPrincipal {
    const arn = deployRoleArnOf(stack);
    if (arn === undefined) {
      throw new Error(`${where} uses ${this.node.path} from stack ${stack.node.path}, whose synthesizer (${stack.synthesizer.constructor.name}) has no CloudFormation execution role to allow`);
    }
    return new iam.ArnPrincipal(arn);
  }

  /** The principals named by ARN, which an explicit deny can name without touching others. */
  private namedPrincipals(principals: iam.IPrincipal[]): iam.IPrincipal[] {
    const named = principals.map(p => granteeOf(this, p)).filter(g => g.kind === GranteeKind.NAMED).map(g => g.principal);
    return named.filter((p, i) => named.findIndex(q => samePrincipal(this, p, q)) === i);
  }

  /** The ARN of the role CloudFormation deploys the key's stack with. */
  private deployRoleArn(): string {
    if (this.deployRoleProp) return this.deployRoleProp.roleArn;
    const arn = deployRoleArnOf(Stack.of(this));
    if (arn === undefined) {
      throw new Error(
        `deployRole is required for ${this.node.path}: its stack's synthesizer (${Stack.of(this).synthesizer.constructor.name}) has no CloudFormation execution role, which the key policy names as the role that updates it and creates the key's consumers`,
      );
    }
    return arn;
  }

  /** Refuses what no key policy statement of the library names: every principal, or a kind KMS grants no use to. */
  private assertPrincipalKind(method: string, principal: iam.IPrincipal, view: Grantee): void {
    if (view.kind === GranteeKind.EVERYONE) {
      throw new Error(`${method} must not be given every principal (${principal}): the key policy names who may use the key`);
    }
    if (view.kind === GranteeKind.UNSUPPORTED) {
      throw new Error(
        `${method} must be given an AWS account, role, user or service principal, got ${principal}: key policies name federated and canonical-user principals for no use of the key`,
      );
    }
  }

  /**
   * Whether two principals are the same: the same object or policy JSON, or the same
   * literal ARN (an imported role of the admin role's ARN is the admin role).
   */
  private sameIdentity(a: iam.IPrincipal, b: iam.IPrincipal): boolean {
    if (samePrincipal(this, a, b)) return true;
    const arnA = this.literalArnOf(a);
    return arnA !== undefined && arnA === this.literalArnOf(b);
  }

  private literalArnOf(principal: iam.IPrincipal): string | undefined {
    const named = principal instanceof iam.Role ? adminPrincipal(principal) : undefined;
    const arn = granteeOf(this, named?.named ? named.principal : principal).arn;
    return arn === undefined || Token.isUnresolved(arn) ? undefined : arn;
  }

  private assertNotAdministrator(method: string, principal: iam.IPrincipal, granted: string[]): void {
    const admin = this.administrators.find(a => this.sameIdentity(a, principal));
    if (admin) {
      throw new Error(
        `${method} must not be given ${this.describePrincipal(admin, this.adminRole, 'the admin role', 'a principal that administers the key')}: administrators manage the key and cannot use it, got ${granted.join(', ')}`,
      );
    }
  }

  /**
   * A service principal of a CONFIDENTIAL or RESTRICTED key is scoped to resources
   * of the key's account when the grant does not scope it (`aws:SourceArn`,
   * `aws:SourceAccount`, an encryption context), as aws-cdk-lib's event targets do
   * not: `kms:ViaService` never applies to a service acting for itself.
   */
  private scopeService(view: Grantee): Grantee {
    if (this.rules.rootCryptographyAllowed) return view;
    const keys = Object.values(view.conditions).flatMap(values => Object.keys(values));
    const scoped = keys.some(k => ['aws:SourceArn', 'aws:SourceAccount', 'aws:SourceOrgID'].includes(k) || k.startsWith('kms:EncryptionContext:'));
    if (scoped) return view;
    return { ...view, conditions: mergeConditions(view.conditions, { StringEquals: { 'aws:SourceAccount': this.env.account } }) };
  }

  /** A grant made through a service keeps that service, which must be one the key allows. */
  private assertOwnServices(method: string, view: Grantee): void {
    const allowed = this.policy.viaServices;
    const foreign = (view.viaServices ?? []).filter(s => allowed !== undefined && !allowed.includes(s));
    if (foreign.length > 0) {
      throw new Error(
        `${method} was made through ${foreign.join(', ')}, which is not in the key's viaServices (${allowed!.join(', ')}): add it to viaServices or use another key`,
      );
    }
  }

  /**
   * Adds a grant's statements to the key policy. The returned grant has the
   * principal statement aws-cdk-lib constructs narrow (`grantAttachVolume` adds
   * conditions to it): it is not attached to the grantee, and what is added to it
   * narrows the key policy statements of the grant. A grantee in another account also
   * needs an identity policy there, which is added when the grantee is in this app.
   */
  private grantOnKey(grantee: iam.IGrantable, statements: iam.PolicyStatement[], identityPolicy = false): iam.Grant {
    const granted = actions.unique(statements.flatMap(s => s.actions));
    const recorder = new StatementRecorder(this);
    const mirror = iam.Grant.addToPrincipal({ grantee: { grantPrincipal: recorder }, actions: granted, resourceArns: [this.keyArn] });
    this.policy.narrowWith(recorder.statement!, statements.filter(s => s.effect === iam.Effect.ALLOW));
    const grants = [mirror, ...statements.map(statement => iam.Grant.addStatementToResourcePolicy({
      grantee, actions: statement.actions, resourceArns: [this.keyArn], resource: this.ownPolicy, statement,
    }))];
    const principalAccount = grantee.grantPrincipal.principalAccount;
    if (identityPolicy || (principalAccount !== undefined
      && Token.compareStrings(principalAccount, this.env.account) === TokenComparison.DIFFERENT)) {
      grants.push(iam.Grant.addToPrincipal({ grantee, actions: granted, resourceArns: [this.keyArn] }));
    }
    return grants.reduce((all, g) => all.combine(g));
  }

  private describePrincipal(principal: iam.IPrincipal, role: iam.IRole | undefined, roleName: string, other: string): string {
    return role && samePrincipal(this, principal, role) ? `${roleName} ${role.node.path}` : `${other} (${principal})`;
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
}

/** Whether a stack depends on another, directly or through other stacks. */
function dependsOn(stack: Stack, other: Stack, seen = new Set<Stack>()): boolean {
  if (seen.has(stack)) return false;
  seen.add(stack);
  return stack.dependencies.some(d => d === other || dependsOn(d, other, seen));
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

/**
 * A principal that keeps the identity statement a grant makes for it, so that the
 * grant has the principal statement aws-cdk-lib constructs expect, without an
 * identity policy: the key policy names the grantee.
 */
class StatementRecorder extends iam.PrincipalBase {
  public statement?: iam.PolicyStatement;
  public readonly policyFragment = new iam.PrincipalPolicyFragment({});

  constructor(private readonly dependable: IDependable) {
    super();
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.statement = statement;
    return { statementAdded: true, policyDependable: this.dependable };
  }

  public dedupeString(): string | undefined {
    return undefined;
  }
}

/** An allow of KMS actions to IAM principals with no condition: what `KeyGrants` writes. */
function isPlainGrant(statement: iam.PolicyStatement): boolean {
  const json = statement.toStatementJson();
  return statement.effect === iam.Effect.ALLOW
    && json.Condition === undefined && json.NotAction === undefined && json.NotPrincipal === undefined && json.NotResource === undefined
    && statement.sid === undefined
    && statement.actions.length > 0 && statement.actions.every(a => a.startsWith('kms:'))
    && statement.principals.length > 0
    && statement.principals.every(p => !('Service' in p.policyFragment.principalJson));
}
