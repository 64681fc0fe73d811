import {
  Aspects, CfnResource, DefaultTokenResolver, IAspect, IPostProcessor, IResolvable, IResolveContext, Reference, Stage, StringConcat, Tokenization,
} from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** A CloudFormation resource that names a key or topic, and the property it does it in. */
export interface Consumer {
  readonly resource: CfnResource;
  /** The top-level property that names it, as `KmsKeyId`. */
  readonly property: string;
}

/** The types whose properties are read: the key's consumers and the publishers to topics. */
const READ_TYPES = new Set([
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::EC2::Volume',
  'AWS::EC2::LaunchTemplate',
  'AWS::Lambda::Function',
  'AWS::EFS::FileSystem',
  'AWS::Kinesis::Stream',
  'AWS::Backup::BackupVault',
  'AWS::SecretsManager::Secret',
  'AWS::Logs::LogGroup',
  'AWS::SNS::Topic',
  'AWS::CloudWatch::Alarm',
  'AWS::Events::Rule',
  'AWS::S3::Bucket',
  'AWS::SQS::Queue',
  'Custom::S3BucketNotifications',
  // Identity policies that name a key: see identity-grants.ts.
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::Role',
  'AWS::IAM::User',
]);

const REGISTRY = Symbol.for('cdk-kms-constructs.ConsumerRegistry');

/**
 * A token that names a key without a CloudFormation reference to it, as a
 * multi-Region key set's member ARN written in another Region's stack, carries the
 * key's resource under this symbol, so the key still learns who names it.
 */
export const KEY_REFERENCE = Symbol.for('cdk-kms-constructs.keyReference');

/**
 * Finds, once the app is complete, the CloudFormation resources that name a
 * resource of interest (a key, an encrypted topic) in their properties, through the
 * references aws-cdk-lib records: whatever construct, L1 or L2, made them. One per
 * stage, kept on the stage under a global symbol so that two copies of this
 * library in one app share it.
 */
export class ConsumerRegistry implements IAspect {
  /**
   * The registry of the scope's stage (the app, or a Stage such as a pipeline's),
   * added as an aspect of the stage on first use: a stage is synthesized on its own,
   * and no reference crosses stages.
   */
  public static of(scope: IConstruct): ConsumerRegistry {
    const stage: IConstruct = Stage.of(scope) ?? scope.node.root;
    const holder = stage as unknown as Record<symbol, ConsumerRegistry | undefined>;
    let registry = holder[REGISTRY];
    if (!registry) {
      registry = new ConsumerRegistry();
      Object.defineProperty(holder, REGISTRY, { value: registry, enumerable: false });
      Aspects.of(stage).add(registry);
    }
    return registry;
  }

  private readonly consumers = new Map<IConstruct, Consumer[]>();

  private constructor() {}

  public visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node) || !READ_TYPES.has(node.cfnResourceType)) return;
    const properties: Record<string, unknown> = (node as any).cfnProperties ?? (node as any)._cfnProperties ?? {};
    for (const [name, value] of Object.entries(properties)) {
      // Typed L1s keep their properties by their TypeScript names: kmsKeyId -> KmsKeyId.
      const property = name.charAt(0).toUpperCase() + name.slice(1);
      for (const target of referencedConstructs(node, value)) {
        const list = this.consumers.get(target) ?? [];
        if (!list.some(c => c.resource === node && c.property === property)) list.push({ resource: node, property });
        this.consumers.set(target, list);
      }
    }
  }

  /** The resources that name `target` (a CfnKey, a CfnTopic). */
  public consumersOf(target: IConstruct): Consumer[] {
    return this.consumers.get(target) ?? [];
  }
}

/**
 * The constructs a property value references: the value is resolved as synthesis
 * would resolve it, Lazy values included, with a resolver that records each
 * reference's target instead of rendering it.
 */
export function referencedConstructs(scope: IConstruct, value: unknown): IConstruct[] {
  const collector = new ReferenceCollector();
  Tokenization.resolve(value, { scope, resolver: collector, preparing: true });
  return collector.targets;
}

class ReferenceCollector extends DefaultTokenResolver {
  public readonly targets: IConstruct[] = [];

  constructor() {
    super(new StringConcat());
  }

  public resolveToken(t: IResolvable, context: IResolveContext, postProcessor: IPostProcessor): any {
    if (t instanceof Reference) {
      this.targets.push(t.target);
      return '';
    }
    const named = (t as { [KEY_REFERENCE]?: IConstruct })[KEY_REFERENCE];
    if (named) this.targets.push(named);
    return super.resolveToken(t, context, postProcessor);
  }
}
