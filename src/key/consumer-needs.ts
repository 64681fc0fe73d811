import { CfnResource, Stack, Token, TokenComparison } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { IConstruct } from 'constructs';
import * as actions from './actions';
import { ClassificationRules } from './classification';
import { ConsumerRegistry } from './consumer-registry';
import { creationUses, encryptionUse } from './consumers';
import { addStackDependency } from './dependencies';
import type { PlannedKey } from './grant-planner';
import { GranteeKind } from './grantee';
import { IDENTITY_POLICY_TYPES, identityGrantsOf } from './identity-grants';
import { KeyPolicy } from './key-policy';
import { deployRoleArnOf } from './key-roles';
import { TOPIC_PUBLISHERS } from './service-statements';

/*
 * What the resources of the app that name a ClassifiedKey need of its key policy
 * (its consumers: a table, a volume, a log group, a topic...), learned once the app
 * is complete, and the identity policies naming the key that the key would not honour.
 */

/** What consumer learning needs of the key's grant planner. */
export interface ConsumerNeedsProps {
  readonly policy: KeyPolicy;
  readonly rules: ClassificationRules;
  readonly adminActions: string[];
  readonly multiRegion: boolean;
  readonly grants: {
    /** The principal that creates the key's consumers. */
    deployRole(): iam.IPrincipal;
    /** What an identity policy allows a principal on the key that the key policy does not. */
    unhonoured(principal: IConstruct, allowed: string[]): string[];
  };
}

/** Learns, once, what the key's consumers need of its key policy. */
export class ConsumerNeeds {
  private learned = false;

  constructor(private readonly key: PlannedKey, private readonly props: ConsumerNeedsProps) {}

  /**
   * Adds what the resources that name the key need and aws-cdk-lib grants nothing
   * for: the deploy role's creation calls through each resource's service (a
   * DynamoDB table, a volume, an RDS instance), CloudWatch Logs for log groups, and
   * CloudWatch alarms publishing to encrypted topics. Returns what cannot be.
   */
  public learn(consumers: ConsumerRegistry): string[] {
    if (this.learned) return [];
    this.learned = true;
    const errors: string[] = [];
    const given = new Set<string>();
    const once = (id: string, add: () => void) => {
      if (given.has(id)) return;
      given.add(id);
      add();
    };
    for (const { resource, property } of consumers.consumersOf(this.key.node.defaultChild as CfnResource)) {
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
      const foreign = this.props.multiRegion
        && Token.compareStrings(consumerStack.region, Stack.of(this.key).region) === TokenComparison.DIFFERENT ? consumerStack : undefined;
      if (foreign) {
        if (dependsOn(Stack.of(this.key), foreign)) {
          errors.push(`the key is used by ${where}, whose stack ${foreign.node.path} is deployed before this key's stack ${Stack.of(this.key).node.path}, which depends on it: put the resource in a stack of its own in ${foreign.region}, which then deploys after every Region's key it names`);
          continue;
        }
        addStackDependency(foreign, Stack.of(this.key), `${where} uses ${this.key.node.path}`);
      }
      const encryption = encryptionUse(resource.cfnResourceType, property);
      const symmetricEncryption = this.key.keySpec === kms.KeySpec.SYMMETRIC_DEFAULT && this.key.keyUsage === kms.KeyUsage.ENCRYPT_DECRYPT;
      if ((encryption || uses.length > 0) && !symmetricEncryption) {
        errors.push(`the key is used by ${where}, which needs a symmetric encryption key, got keySpec ${this.key.keySpec} for ${this.key.keyUsage}`);
        continue;
      }
      // Its users call KMS through its service (a bucket's readers, a queue's
      // consumers), so a key narrowed to services must list it. A topic is exempt: its
      // publishers are often AWS services, which call as themselves.
      const allowedServices = this.props.policy.viaServices;
      if (encryption?.service && allowedServices && !allowedServices.includes(encryption.service) && resource.cfnResourceType !== 'AWS::SNS::Topic') {
        errors.push(`the key is used by ${where} through ${encryption.service}, which is not in viaServices (${allowedServices.join(', ')}): add it, or use another key`);
        continue;
      }
      for (const use of uses) {
        const allowed = this.props.policy.viaServices;
        if (allowed && !allowed.includes(use.service)) {
          errors.push(`the key is used by ${where} through ${use.service}, which is not in viaServices (${allowed.join(', ')}): add it, or use another key`);
          continue;
        }
        const creator = foreign ? this.foreignDeployRole(foreign, where) : this.props.grants.deployRole();
        once(`${foreign?.node.path ?? ''} ${use.service} ${use.actions.join()}`, () => {
          this.props.policy.document.addStatements(...this.props.policy.usageStatements({
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
        const named = rendered !== undefined && (typeof rendered === 'string' || Stack.of(resource) === Stack.of(this.key));
        if (!named && !this.props.rules.rootCryptographyAllowed) {
          errors.push(`the key is used by ${where}, which has no logGroupName known at synth: a ${this.key.classification} key lets CloudWatch Logs use it for log groups it names, so give the log group a logGroupName`);
          continue;
        }
        once(`logs ${named ? name : '*'}`, () => this.props.policy.document.addStatements(this.props.policy.logGroupStatement(named ? name : undefined)));
      }
      if (resource.cfnResourceType === 'AWS::SNS::Topic') {
        const publishing = new Set(consumers.consumersOf(resource).map(c => c.resource.cfnResourceType));
        for (const publisher of TOPIC_PUBLISHERS.filter(p => publishing.has(p.cfnType))) {
          once(`publisher ${publisher.servicePrincipal}`, () => this.props.policy.document.addStatements(this.props.policy.publisherStatement(publisher)));
        }
      }
    }
    return errors;
  }

  /**
   * An identity policy naming the key gives nothing the key policy does not: what it
   * allows beyond reading the key's settings must come from a grant of the key.
   */
  private checkIdentityPolicy(resource: CfnResource): string[] {
    const errors: string[] = [];
    for (const grant of identityGrantsOf(resource, this.key.keyArn)) {
      for (const principal of grant.principals) {
        const missing = this.props.grants.unhonoured(principal, grant.actions);
        if (missing.length === 0) continue;
        const who = `${principal.node.path} (${(principal as CfnResource).cfnResourceType})`;
        const call = principal instanceof iam.CfnGroup
          ? 'a key policy cannot name an IAM group: grant its members\' roles with the key\'s grant methods'
          : missing.some(a => this.props.adminActions.includes(a) && !actions.ALL_CRYPTOGRAPHIC.includes(a))
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
      throw new Error(`${where} uses ${this.key.node.path} from stack ${stack.node.path}, whose synthesizer (${stack.synthesizer.constructor.name}) has no CloudFormation execution role to allow`);
    }
    return new iam.ArnPrincipal(arn);
  }
}

/** Whether a stack depends on another, directly or through other stacks. */
function dependsOn(stack: Stack, other: Stack, seen = new Set<Stack>()): boolean {
  if (seen.has(stack)) return false;
  seen.add(stack);
  return stack.dependencies.some(d => d === other || dependsOn(d, other, seen));
}
