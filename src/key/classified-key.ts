import { createHash } from 'crypto';
import { Lazy, Resource, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import * as actions from './actions';
import { ClassificationRules, DataClassification } from './classification';
import { ClassifiedKeyProps } from './classified-key-props';
import { ConsumerRegistry } from './consumer-registry';
import { GrantPlanner } from './grant-planner';
import { KEY_HOME, KeyHome, STANDARD_HOME } from './key-home';
import { KeyPolicy } from './key-policy';
import { adminPrincipal, deployRoleArnFor, hasMfaInTrust, sharedAdminRole } from './key-roles';
import { resolveKeySettings } from './key-settings';
import { asWatcher, defaultWatcherOf, KeyMetricName, materialExpiryMetric } from './key-watch';
import { resolveNetworkPerimeter } from './network-perimeter';
import { samePrincipal } from './policy-conditions';
import { RolesUnderPath } from './roles-under-path';
import { claimAlias, deriveAlias, validateAlias } from './validation';
import type { KeyAuditTrail } from '../audit/key-audit-trail';
import { addToKeyInventory } from '../inventory/key-inventory';
import { acknowledgeImportedMaterial } from '../nag';

const IS_CLASSIFIED_KEY = Symbol.for('cdk-kms-constructs.ClassifiedKey');

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

  /** Every role of the key's account under an IAM path (`/payments/readers/`), for the grant methods: see RolesUnderPath. */
  public static rolesUnderPath(path: string): RolesUnderPath {
    return new RolesUnderPath(path);
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
  /** What each grant on the key means: see GrantPlanner. */
  private readonly grants: GrantPlanner;

  constructor(scope: Construct, id: string, props: ClassifiedKeyProps) {
    super(scope, id);
    Object.defineProperty(this, IS_CLASSIFIED_KEY, { value: true });

    // Where the key's material lives (this library's multi-Region and HSM keys choose
    // theirs); checked first, so a home's refusal names the prop.
    const home: KeyHome = (props as { [KEY_HOME]?: KeyHome })[KEY_HOME] ?? STANDARD_HOME;
    home.check(props);
    const settings = resolveKeySettings(props, home);
    this.classification = props.classification;
    this.rules = settings.rules;
    this.keySpec = settings.keySpec;
    this.keyUsage = settings.keyUsage;
    this.profile = settings.profile;
    const { imported, rotatable, complianceScope, pendingWindowDays, removalPolicy, monitoring } = settings;
    this.rotationEnabled = settings.rotation.enabled;
    this.rotationPeriodDays = settings.rotation.periodDays;

    const stack = Stack.of(this);
    const aliasName = props.alias ?? deriveAlias([ // A nested stack's name is known at deployment only: its path stands for it.
      this.rules.tagValue, Token.isUnresolved(stack.stackName) ? stack.node.path : stack.stackName,
      ...this.node.scopes.slice(this.node.scopes.indexOf(stack) + 1).map(s => s.node.id),
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
    this.policy = new KeyPolicy(this, {
      adminActions,
      lockoutGuardActions: adminActions.filter(a => !actions.ADMIN_IMPORT.includes(a) && a !== 'kms:PutKeyPolicy'),
      policyWriters: [deployRoleArnFor(this, props.deployRole), ...home.policyWriters],
      namedPolicyWriters: home.policyWriters,
      administratorOnlyActions: imported ? actions.ADMIN_IMPORT : [],
      viaServices: props.viaServices,
      encryptionContextKeys: props.encryptionContextKeys,
      organizationId: props.organizationId,
      networkPerimeter: resolveNetworkPerimeter(this, props),
    });
    this.grants = new GrantPlanner(this, {
      policy: this.policy,
      rules: this.rules,
      profile: this.profile,
      adminActions,
      allowAccountRootCryptography: props.allowAccountRootCryptography ?? false,
      allowFleetGrants: props.allowFleetGrants ?? this.classification !== DataClassification.RESTRICTED,
      deployRole: props.deployRole,
      multiRegion: home.multiRegionPrimary || home.cfnType === 'AWS::KMS::ReplicaKey',
      userRole: () => this.userRoleValue,
    });
    // A role this library made requires MFA in its trust; another must in the key policy.
    const admin = adminPrincipal(this.adminRole);
    const adminNeedsMfa = requireMfa && !hasMfaInTrust(this.adminRole);
    this.policy.addAdministrator(admin.principal, adminNeedsMfa);
    for (const statement of home.administration) this.policy.addRestrictedAdministration(statement, admin.principal, adminNeedsMfa);
    this.grants.addAdministrator(this.adminRole);
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
    this.policy.separateRoles(() => ({
      administrators: this.grants.separatedAdministrators(), users: this.grants.separatedUsers(), fleets: this.grants.fleetPatterns,
    }));
    // Once the app is complete: what the resources that name the key need of it.
    const consumers = ConsumerRegistry.of(this);
    this.node.addValidation({ validate: () => this.grants.learnConsumers(consumers) });
    this.node.addValidation({ validate: () => this.policy.validate() });

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

    // Monitoring: the audit trail of the account and Region counts this key's events; its alarms notify the key's topic or the trail's.
    this.auditTrail = monitoring ? props.auditTrail ?? defaultWatcherOf(this) : undefined;
    this.alarms = this.auditTrail ? asWatcher(this.auditTrail, this)._watch({
      key: this, keyArn, classification: this.classification, rules: this.rules, importedMaterial: imported, alarmTopic: props.alarmTopic,
    }) : [];

    Tags.of(this).add(ClassifiedKey.CLASSIFICATION_TAG, this.rules.tagValue);
    if (props.owner !== undefined) Tags.of(this).add(ClassifiedKey.OWNER_TAG, props.owner);
    if (complianceScope !== undefined) Tags.of(this).add(ClassifiedKey.COMPLIANCE_SCOPE_TAG, complianceScope);
    addToKeyInventory(this);
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
      this.grants.addUser(role, this.profile.all);
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
    return this.auditMetric('KeyStateChanges', props);
  }

  /**
   * Key policy changes, revoked grants and grants created outside AWS services, counted
   * from the audit trail (sum over 5 minutes).
   */
  public metricPolicyOrGrantChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric('KeyPolicyOrGrantChanges', props);
  }

  /**
   * Aliases of the key created, moved or deleted, and its tags changed, counted from
   * the audit trail (sum over 5 minutes).
   */
  public metricAliasOrTagChanges(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric('KeyAliasOrTagChanges', props);
  }

  /** Requests to the key that KMS denied, counted from the audit trail (sum over 5 minutes). */
  public metricDeniedRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.auditMetric('KeyDeniedRequests', props);
  }

  /**
   * KMS's own metric of seconds left until imported key material expires (minimum
   * over 5 minutes). KMS publishes it only for keys with expiring imported material.
   */
  public metricSecondsUntilKeyMaterialExpiration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return materialExpiryMetric(this.keyId, props);
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
    this.grants.addStatement(statement);
    return { statementAdded: true, policyDependable: this };
  }

  /** Lets a KeyGrant's handler create the grants `statements` allow; returns how the key narrows its use. @internal */
  public _addGrantCreator(creatorArn: string, statements: iam.PolicyStatement[]): { viaServices?: string[]; encryptionContextKeys?: string[] } {
    if (this.policy.rendered) throw new Error(`a KeyGrant of ${this.node.path} was declared after the key's policy was written: declare it before synthesis`);
    return this.policy.addGrantCreator(creatorArn, statements);
  }

  /**
   * Lets a principal use the key for the given actions. The actions must belong to
   * the key's usage (wildcards such as `kms:GenerateDataKey*` are expanded); grant
   * management is limited to grants for AWS resources.
   */
  public grant(grantee: iam.IGrantable, ...actionPatterns: string[]): iam.Grant {
    return this.grants.grantUsage('grant', grantee, actions.usageActionsOf(actionPatterns, this.profile, this.keyUsage, this.keySpec));
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
    return this.grants.grantAdmin(grantee);
  }

  private grantPart(method: string, grantee: iam.IGrantable, parts: string[]): iam.Grant {
    if (parts.length === 0) {
      throw new Error(
        `${method} is not available on a ${this.keyUsage} key (keySpec ${this.keySpec}): grant what the key's usage allows`,
      );
    }
    return this.grants.grantUsage(method, grantee, actions.unique([...actions.DESCRIBE, ...parts]));
  }

  private auditMetric(metricName: KeyMetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (!this.auditTrail) throw new Error(`${metricName} is counted by the audit trail, and monitoring is off for ${this.node.path}`);
    return asWatcher(this.auditTrail, this)._keyMetric(metricName, this.keyArn, props);
  }
}
