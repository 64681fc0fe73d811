import { CfnOutput, CfnResource, CustomResource, Duration, IResolvable, IResolveContext, RemovalPolicy, Stack, Stage, Tags, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { PrimaryKeyLookupFunction } from './primary-key-lookup-function';
import { KeyAuditTrail } from '../audit/key-audit-trail';
import { HandlerVpcOptions } from '../custom-resources/handler-vpc';
import { providerFor } from '../custom-resources/provider-support';
import { PRIMARY_KEY_LOOKUP_TYPE } from '../custom-resources/resource-types';
import { DataClassification, rulesFor } from '../key/classification';
import { ClassifiedKey, ClassifiedKeyProps } from '../key/classified-key';
import { KEY_REFERENCE } from '../key/consumer-registry';
import { addStackDependency } from '../key/dependencies';
import { KEY_HOME, multiRegionPrimaryHome, replicaHome } from '../key/key-home';
import { RestrictedAdministration } from '../key/key-policy';
import { adminPrincipal, deployRoleArnOf } from '../key/key-roles';
import { deriveAlias, validateAlias, validateTag } from '../key/validation';
import { acknowledgeKeyLookup } from '../nag';

/**
 * The options of a MultiRegionKeySet that every member of the set shares.
 */
export interface MultiRegionKeyOptions {
  /** How sensitive the protected data is; the same in every Region. */
  readonly classification: DataClassification;

  /**
   * The kind of key material, shared by every member. Changing it replaces every
   * member: the primary, and each replica, made again from the new primary.
   *
   * @default kms.KeySpec.SYMMETRIC_DEFAULT
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * What the keys are for, shared by every member.
   *
   * @default - the key spec's only usage
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * The alias of the key in every Region, unless `regionOptions` names another.
   *
   * @default - `alias/<classification>/<the set's construct path>`, the same in every Region
   */
  readonly alias?: string;

  /**
   * A description of the key in every Region, unless `regionOptions` gives another.
   *
   * @default - names the classification, the set and the Region
   */
  readonly description?: string;

  /**
   * Who may assume the admin role of each Region's stack. See `ClassifiedKeyProps.adminRoleAssumedBy`.
   *
   * @default - IAM principals of the account that their own policies allow
   */
  readonly adminRoleAssumedBy?: iam.IPrincipal;

  /**
   * Who may assume each member's user role, made when `keyIn(region).userRole` is
   * read or when this is given.
   *
   * @default - no user role unless asked for
   */
  readonly userRoleAssumedBy?: iam.IPrincipal;

  /**
   * Services through which the keys may be used, by name; each Region's policy names
   * that Region's endpoints. See `ClassifiedKeyProps.viaServices`.
   *
   * @default - use is not limited to services
   */
  readonly viaServices?: string[];

  /**
   * Services KMS integrates with that this library does not list yet, to accept in
   * `viaServices`. See `ClassifiedKeyProps.extraViaServiceNames`.
   *
   * @default - `viaServices` may name only the services the library lists
   */
  readonly extraViaServiceNames?: string[];

  /**
   * Encryption context keys every request must include, in every Region.
   *
   * @default - no encryption context is required
   */
  readonly encryptionContextKeys?: string[];

  /**
   * Deny every principal outside this AWS Organizations organization, in every Region.
   *
   * @default - no organization guard
   */
  readonly organizationId?: string;

  /**
   * How often KMS rotates the key material, set on the primary; replicas share the
   * primary's material and follow its rotation.
   *
   * @default - the classification's period
   */
  readonly rotationPeriod?: Duration;

  /**
   * Whether KMS rotates the key material, set on the primary.
   *
   * @default - true for symmetric keys with KMS-made material
   */
  readonly enableKeyRotation?: boolean;

  /**
   * How long KMS waits before deleting a member once its deletion is scheduled, 7 to 30 days.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to each member when it leaves its stack. Members are kept unless
   * you opt in. A primary whose replicas still exist waits in `PendingReplicaDeletion`.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Make keys with no material (origin EXTERNAL). Each replica starts in
   * `PendingImport` and needs the same material imported as the primary's.
   *
   * @default false
   */
  readonly importKeyMaterial?: boolean;

  /**
   * Let IAM policies grant use of the keys, for PUBLIC and INTERNAL sets only.
   *
   * @default false
   */
  readonly allowAccountRootCryptography?: boolean;

  /**
   * The team that owns the keys, written to the `owner` tag of every member.
   *
   * @default - no owner tag
   */
  readonly owner?: string;

  /**
   * Compliance frameworks the keys are in scope of, written to every member's
   * `compliance-scope` tag.
   *
   * @default - no compliance-scope tag
   */
  readonly complianceScopes?: string[];

  /**
   * Whether each member registers with the audit trail of its Region and gets the
   * alarms of its classification there. Only PUBLIC and INTERNAL sets may go without.
   *
   * @default true
   */
  readonly monitoring?: boolean;
}

/**
 * What one Region's member has of its own.
 */
export interface RegionalKeyOptions {
  /**
   * The member's alias in this Region.
   *
   * @default - the set's `alias`
   */
  readonly alias?: string;

  /**
   * The member's description.
   *
   * @default - the set's `description`
   */
  readonly description?: string;

  /**
   * Tags of this Region's member only.
   *
   * @default - none beyond the set's
   */
  readonly tags?: { [key: string]: string };

  /**
   * The topic this Region's member's own alarm notifies (CONFIDENTIAL and RESTRICTED
   * sets), in this Region.
   *
   * @default - the topic of the Region's audit trail
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * The audit trail that watches this Region's member, in its stack's account and
   * Region: for example one attached to your organization trail's log group in this
   * Region, so that the set creates no trail there.
   *
   * @default - the trail of the stack's account and Region, `KeyAuditTrail.of`, created on first use
   */
  readonly auditTrail?: KeyAuditTrail;

  /**
   * Run the functions of this replica Region's primary key lookup (its handler and
   * the Provider framework's) in private subnets of a VPC of this Region, as AWS
   * Control Tower's CT.LAMBDA.PR.3 asks. The lookup calls the primary Region's
   * CloudFormation and KMS, so the subnets need egress through a NAT gateway. The
   * primary Region runs no function: setting it there is an error.
   *
   * @default - the functions run outside any VPC (CT.LAMBDA.PR.3's one documented exception)
   */
  readonly handlerVpc?: HandlerVpcOptions;
}

/**
 * Properties of a MultiRegionKeySet.
 */
export interface MultiRegionKeySetProps extends MultiRegionKeyOptions {
  /** The account of every member, 12 digits: multi-Region keys are never cross-account. */
  readonly account: string;

  /** The Region of the primary key. */
  readonly primaryRegion: string;

  /** The Regions of the replicas, at least one, none the primary's, all in its partition. */
  readonly replicaRegions: string[];

  /**
   * Stacks you already have, at most one per Region of the set, in the set's account.
   * The set makes a stack for each other Region.
   *
   * @default - a stack per Region, `<id>-<region>`, in the set's scope
   */
  readonly stacks?: Stack[];

  /**
   * Options of each Region's member of its own, by Region.
   *
   * @default - every member takes the set's options
   */
  readonly regionOptions?: { [region: string]: RegionalKeyOptions };

  /**
   * Let the keys' administrators promote a replica to primary (`kms:UpdatePrimaryRegion`,
   * the failover step), in every member's policy, to the set's Regions only.
   *
   * @default false
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-update.html
   */
  readonly allowPrimaryRegionUpdate?: boolean;
}

/**
 * One classified key in several Regions: a multi-Region primary and a replica in
 * each other Region, each in that Region's stack with its own key policy, alias,
 * grants and alarms, from the same policy model as any ClassifiedKey.
 *
 * The replica stacks depend on the primary's. A replica learns its primary's ARN at
 * deploy time from a custom resource that describes the primary's alias in the
 * primary Region, so no cross-Region reference is needed.
 */
export class MultiRegionKeySet extends Construct {
  /** The set's Regions, the primary's first. */
  public readonly regions: string[];
  /** The Region of the primary key. */
  public readonly primaryRegion: string;
  /** The account of every member. */
  public readonly account: string;
  /** The multi-Region primary key. */
  public readonly primaryKey: ClassifiedKey;
  /** The replicas, in the order of `replicaRegions`. */
  public readonly replicaKeys: ClassifiedKey[];

  private readonly keys = new Map<string, ClassifiedKey>();
  private readonly stacks = new Map<string, Stack>();
  private readonly partition: string;

  constructor(scope: Construct, id: string, props: MultiRegionKeySetProps) {
    super(scope, id);
    const inStack = findStack(scope);
    if (inStack) {
      throw new Error(`scope must be an App or a Stage, to which the set adds a stack per Region, got ${scope.node.path}, which is in stack ${inStack.node.path}`);
    }
    this.account = validateAccount(props.account);
    this.primaryRegion = validateRegion('primaryRegion', props.primaryRegion);
    this.partition = RegionInfo.get(this.primaryRegion).partition!;
    const replicas = validateReplicaRegions(props.replicaRegions, this.primaryRegion, this.partition);
    this.regions = [this.primaryRegion, ...replicas];
    validateKeySpecInRegions(props.keySpec, this.regions);
    if (props.regionOptions?.[props.primaryRegion]?.handlerVpc) {
      throw new Error(`regionOptions.${props.primaryRegion}.handlerVpc must not be set: the primary Region's stack runs no function of the set (only replica Regions run the primary key lookup)`);
    }
    for (const region of Object.keys(props.regionOptions ?? {})) {
      if (!this.regions.includes(region)) {
        throw new Error(`regionOptions must name Regions of the set (${this.regions.join(', ')}), got ${region}`);
      }
    }

    this.adoptStacks(props.stacks ?? []);
    for (const region of this.regions) {
      if (!this.stacks.has(region)) {
        this.stacks.set(region, new Stack(scope, `${id}-${region}`, { env: { account: this.account, region } }));
      }
    }
    const primaryStack = this.stacks.get(this.primaryRegion)!;
    for (const region of replicas) addStackDependency(this.stacks.get(region)!, primaryStack, `${id}: a replica is made from the primary key`);

    const defaultAlias = props.alias ?? deriveAlias([rulesFor(props.classification).tagValue, ...this.node.scopes.slice(1).map(s => s.node.id)]);
    validateAlias('alias', defaultAlias);
    const aliasIn = (region: string) => props.regionOptions?.[region]?.alias ?? defaultAlias;
    for (const region of this.regions) validateAlias(`regionOptions.${region}.alias`, aliasIn(region));

    // CloudFormation replicates the primary as each replica Region's stack: each Region's
    // deploy role may, into its own Region only. An administrator replicating by hand
    // would also need kms:CreateKey in the Region, and make a key outside the stacks.
    const replicate: RestrictedAdministration[] = replicas.map(region => ({
      sid: `ReplicateTo${region.split('-').map(part => part.charAt(0).toUpperCase() + part.slice(1)).join('')}`,
      actions: ['kms:ReplicateKey'],
      conditions: { StringEquals: { 'kms:ReplicaRegion': region } },
      administrator: false,
      principalArns: [this.deployRoleArnIn(region)],
    }));
    // Promoting a replica needs kms:UpdatePrimaryRegion on the primary and on the
    // replica, for the same principal: the primary's administrator, named in every
    // member (its role exists before the replica stacks are deployed).
    const promote = (primaryAdministrator: string | undefined): RestrictedAdministration[] => props.allowPrimaryRegionUpdate ? [{
      sid: 'UpdatePrimaryRegionInSet',
      actions: ['kms:UpdatePrimaryRegion'],
      conditions: { StringEquals: { 'kms:PrimaryRegion': this.regions } },
      administrator: primaryAdministrator === undefined,
      principalArns: primaryAdministrator === undefined ? [] : [primaryAdministrator],
    }] : [];

    const member = (region: string, home: unknown, rotation: Partial<ClassifiedKeyProps>) => {
      const regional = props.regionOptions?.[region] ?? {};
      const key = new ClassifiedKey(this.stacks.get(region)!, id, {
        classification: props.classification,
        keySpec: props.keySpec,
        keyUsage: props.keyUsage,
        alias: aliasIn(region),
        description: regional.description ?? props.description
          ?? `${props.classification} multi-Region key ${this.node.path} in ${region}, managed by cdk-kms-constructs`,
        adminRoleAssumedBy: props.adminRoleAssumedBy,
        userRoleAssumedBy: props.userRoleAssumedBy,
        viaServices: props.viaServices,
        extraViaServiceNames: props.extraViaServiceNames,
        encryptionContextKeys: props.encryptionContextKeys,
        organizationId: props.organizationId,
        pendingWindow: props.pendingWindow,
        removalPolicy: props.removalPolicy,
        importKeyMaterial: props.importKeyMaterial,
        allowAccountRootCryptography: props.allowAccountRootCryptography,
        owner: props.owner,
        complianceScopes: props.complianceScopes,
        monitoring: props.monitoring,
        alarmTopic: regional.alarmTopic,
        auditTrail: regional.auditTrail,
        ...rotation,
        [KEY_HOME]: home,
      } as ClassifiedKeyProps);
      for (const [name, value] of Object.entries(regional.tags ?? {})) {
        validateTag(`regionOptions.${region}.tags`, name, value, [ClassifiedKey.CLASSIFICATION_TAG, ClassifiedKey.OWNER_TAG, ClassifiedKey.COMPLIANCE_SCOPE_TAG]);
        Tags.of(key).add(name, value);
      }
      this.keys.set(region, key);
      return key;
    };

    this.primaryKey = member(this.primaryRegion, multiRegionPrimaryHome([...replicate, ...promote(undefined)]), {
      rotationPeriod: props.rotationPeriod,
      enableKeyRotation: props.enableKeyRotation,
    });
    const primaryAdministrator = literalArnOf(this.primaryKey.adminRole);
    // What, changed, replaces the primary: then the replicas are made again from the new one.
    const keyKind = [this.primaryKey.keySpec, this.primaryKey.keyUsage, props.importKeyMaterial ? 'EXTERNAL' : 'AWS_KMS'].join('/');
    // The replicas learn the primary's ARN from this output of its stack, which only a
    // deployment of that stack writes; an alias, anyone allowed kms:UpdateAlias could move.
    const outputName = `${id.replace(/[^A-Za-z0-9]/g, '')}PrimaryKeyArn`;
    new CfnOutput(primaryStack, outputName, {
      value: this.primaryKey.keyArn,
      description: `The primary key of ${this.node.path}, which its replicas in ${replicas.join(', ')} are made from`,
    }).overrideLogicalId(outputName);
    this.replicaKeys = replicas.map(region => {
      const stack = this.stacks.get(region)!;
      const { provider, handlerPolicy } = providerFor(stack, PRIMARY_KEY_LOOKUP, props.regionOptions?.[region]?.handlerVpc);
      // Read the primary stack's outputs, and describe the key they name, in the primary's Region.
      const primaryKeys = `arn:${this.partition}:kms:${this.primaryRegion}:${this.account}:key/*`;
      const primaryStackArns = `arn:${this.partition}:cloudformation:${this.primaryRegion}:${this.account}:stack/${primaryStack.stackName}/*`;
      handlerPolicy.addStatements(
        new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [primaryStackArns] }),
        new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [primaryKeys] }),
      );
      acknowledgeKeyLookup(handlerPolicy, [primaryKeys, primaryStackArns]);
      const lookup = new CustomResource(stack, `${id}PrimaryKey`, {
        serviceToken: provider.serviceToken,
        resourceType: PRIMARY_KEY_LOOKUP_TYPE,
        properties: {
          PrimaryRegion: this.primaryRegion,
          PrimaryStackName: primaryStack.stackName,
          OutputName: outputName,
          Account: this.account,
          KeyKind: keyKind,
        },
      });
      return member(region, replicaHome(lookup.getAttString('Arn'), promote(primaryAdministrator)), {});
    });
  }

  /** The set's key in a Region. */
  public keyIn(region: string): ClassifiedKey {
    return this.keys.get(this.assertRegion('region', region))!;
  }

  /** The set's stack in a Region. */
  public stackIn(region: string): Stack {
    return this.stacks.get(this.assertRegion('region', region))!;
  }

  /**
   * The key ARN of the set's member in a Region, usable in any stack of the set's
   * account and Regions: the key ID of a multi-Region key is the same in every
   * Region, so a stack writes it from the member of its own Region (a reference
   * within one Region, never across Regions). For example the per-Region key map of
   * a DynamoDB `TableV2` global table or a replicated secret, in a stack of their
   * own. The member in that Region learns the resource that names it, as it learns
   * its own stack's consumers, and the resource's stack is deployed after it; a
   * stack the member's stack depends on (the primary's, for a replica) is an error.
   */
  public keyArnForRegion(region: string): string {
    const target = this.keyIn(region);
    return Token.asString(new MemberKeyArn({
      target,
      arnPrefix: `arn:${this.partition}:kms:${region}:${this.account}:key/`,
      memberFor: stack => (stack.account === this.account && this.keys.has(stack.region) ? this.keys.get(stack.region) : undefined),
      describe: stack => `keyArnForRegion('${region}') of ${this.node.path} was used in ${stack.node.path} (account ${stack.account}, Region ${stack.region}), which is not in the set's account and Regions (${this.account}: ${this.regions.join(', ')}): the ARN is written from that Region's member`,
    }));
  }

  /** The role CloudFormation deploys a Region's stack with, which creates its replica. */
  private deployRoleArnIn(region: string): string {
    const stack = this.stacks.get(region)!;
    const arn = deployRoleArnOf(stack);
    if (arn === undefined) {
      throw new Error(`stacks: ${stack.node.path} must have a synthesizer with a CloudFormation execution role (DefaultStackSynthesizer), which the primary's key policy lets replicate the key into ${region}, got ${stack.synthesizer.constructor.name}`);
    }
    return arn;
  }

  private assertRegion(prop: string, region: string): string {
    if (!this.regions.includes(region)) {
      throw new Error(`${prop} must be one of the set's Regions (${this.regions.join(', ')}), got ${region}`);
    }
    return region;
  }

  private adoptStacks(stacks: Stack[]): void {
    for (const stack of stacks) {
      const where = `stacks: ${stack.node.path}`;
      if (Token.isUnresolved(stack.region) || !this.regions.includes(stack.region)) {
        throw new Error(`${where} must be in one of the set's Regions (${this.regions.join(', ')}), got Region ${stack.region}`);
      }
      if (stack.account !== this.account) {
        throw new Error(`${where} must be in the set's account ${this.account}: multi-Region keys are never cross-account, got account ${stack.account}`);
      }
      if (this.stacks.has(stack.region)) {
        throw new Error(`${where} is a second stack for ${stack.region}: the set has one member per Region, got ${this.stacks.get(stack.region)!.node.path} too`);
      }
      if (Stage.of(stack) !== Stage.of(this)) {
        throw new Error(`${where} must be in the set's stage (${Stage.of(this)?.node.path || 'the app'}), got ${Stage.of(stack)?.node.path || 'the app'}`);
      }
      this.stacks.set(stack.region, stack);
    }
  }
}

/** How a member's key ARN is written in a stack of the set. */
interface MemberKeyArnSpec {
  /** The member named. */
  readonly target: ClassifiedKey;
  /** Its key ARN up to the key ID. */
  readonly arnPrefix: string;
  /** The set's member in a stack's account and Region, if the set has one there. */
  readonly memberFor: (stack: Stack) => ClassifiedKey | undefined;
  /** The error for a stack outside the set. */
  readonly describe: (stack: Stack) => string;
}

/**
 * A member's key ARN, written in the stack that uses it from the member of that
 * stack's Region (the same key ID), and a reference the consumer registry records, so
 * that the member named learns the resource that names it.
 */
class MemberKeyArn implements IResolvable {
  public readonly creationStack: string[] = [];
  public readonly [KEY_REFERENCE]: CfnResource;

  constructor(private readonly spec: MemberKeyArnSpec) {
    this[KEY_REFERENCE] = spec.target.node.defaultChild as CfnResource;
  }

  public resolve(context: IResolveContext): unknown {
    const stack = Stack.of(context.scope);
    const local = this.spec.memberFor(stack);
    if (!local) throw new Error(this.spec.describe(stack));
    return `${this.spec.arnPrefix}${local.keyId}`;
  }

  public toString(): string {
    return Token.asString(this);
  }
}

/** The handler that describes a primary through its alias, in the primary's Region. */
const PRIMARY_KEY_LOOKUP = {
  name: 'PrimaryKeyLookup',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new PrimaryKeyLookupFunction(scope, id, options),
  timeout: Duration.minutes(1),
  // It also calls the primary Region's CloudFormation and KMS.
  endpointServices: [],
  callsOtherRegions: true,
};

/** The literal ARN of an admin role the library made, which a policy of another stack can name. */
function literalArnOf(role: iam.IRole): string {
  const { principal, named } = adminPrincipal(role);
  const arn = principal.policyFragment.principalJson.AWS?.[0];
  if (!named || typeof arn !== 'string' || Token.isUnresolved(arn)) {
    throw new Error(`the primary's admin role ${role.node.path} has no ARN known at synth, which the replicas' policies must name`);
  }
  return arn;
}

function findStack(scope: Construct): Stack | undefined {
  for (let c: Construct | undefined = scope; c; c = c.node.scope as Construct | undefined) {
    if (Stack.isStack(c)) return c;
  }
  return undefined;
}

const ACCOUNT_PATTERN = /^\d{12}$/;

function validateAccount(account: string): string {
  if (Token.isUnresolved(account) || !ACCOUNT_PATTERN.test(account)) {
    throw new Error(`account must be a 12-digit AWS account ID known at synth (every member of the set is in it), got ${account}`);
  }
  return account;
}

function validateRegion(prop: string, region: string): string {
  if (Token.isUnresolved(region) || !RegionInfo.regions.some(r => r.name === region)) {
    throw new Error(`${prop} must be an AWS Region known at synth, as us-east-1, got ${region}`);
  }
  return region;
}

function validateReplicaRegions(regions: string[], primaryRegion: string, partition: string): string[] {
  if (regions.length === 0) {
    throw new Error('replicaRegions must name at least one Region: a set without a replica is a ClassifiedKey, got []');
  }
  const seen = new Set<string>();
  for (const region of regions) {
    validateRegion('replicaRegions', region);
    if (region === primaryRegion) {
      throw new Error(`replicaRegions must not include primaryRegion: a Region holds one member of the set, got ${region}`);
    }
    if (seen.has(region)) {
      throw new Error(`replicaRegions must name each Region once, got ${region} twice`);
    }
    const other = RegionInfo.get(region).partition;
    if (other !== partition) {
      throw new Error(`replicaRegions must be in the primary's partition (${partition}, of ${primaryRegion}), got ${region} in ${other}`);
    }
    seen.add(region);
  }
  return regions;
}

/**
 * Key specs KMS offers only in some Regions: SM2 only in the China Regions.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html#key-spec-sm
 */
function validateKeySpecInRegions(spec: kms.KeySpec | undefined, regions: string[]): void {
  if (spec !== kms.KeySpec.SM2) return;
  const outside = regions.filter(region => RegionInfo.get(region).partition !== 'aws-cn');
  if (outside.length > 0) {
    throw new Error(`keySpec SM2 is offered only in the China Regions, got it for ${outside.join(', ')}`);
  }
}
