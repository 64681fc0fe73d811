import { CfnOutput, Stack, Stage, Tags, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { MemberKeyArn } from './member-key-arn';
import { multiRegionPrimaryHome, replicaHome } from './multi-region-homes';
import { findStack, literalArnOf, validateAccount, validateKeySpecInRegions, validateRegion, validateReplicaRegions } from './multi-region-key-set-checks';
import { MultiRegionKeySetProps } from './multi-region-key-set-props';
import { lookUpPrimaryKeyArn } from './primary-key-lookup-resource';
import { rulesFor } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';
import { ClassifiedKeyProps } from '../key/classified-key-props';
import { addStackDependency } from '../key/dependencies';
import { KEY_HOME } from '../key/key-home';
import { RestrictedAdministration } from '../key/key-policy';
import { deployRoleArnOf } from '../key/key-roles';
import { deriveAlias, validateAlias, validateTag } from '../key/validation';

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
        vpcEndpoints: regional.vpcEndpoints,
        sourceVpcs: regional.sourceVpcs,
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
      const primaryKeyArn = lookUpPrimaryKeyArn(this.stacks.get(region)!, `${id}PrimaryKey`, {
        partition: this.partition,
        account: this.account,
        primaryRegion: this.primaryRegion,
        primaryStack,
        outputName,
        keyKind,
        handlerVpc: props.regionOptions?.[region]?.handlerVpc,
      });
      return member(region, replicaHome(primaryKeyArn, promote(primaryAdministrator)), {});
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
