import { createHash } from 'crypto';
import { AspectPriority, Aspects, IAspect, Lazy, Stack, Stage, Token } from 'aws-cdk-lib';
import * as config from 'aws-cdk-lib/aws-config';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { EVIDENCE_QUERIES, keyUsageQuery } from './evidence-queries';
import { KeyAuditTrail } from '../audit/key-audit-trail';
import { accountTrailLogGroup } from '../audit/trail-registry';
import { ClassifiedKey } from '../key/classified-key';

/**
 * Where KeyComplianceEvidence forwards the KMS events of its stack's keys: a SIEM's
 * event bus (often in a security account) or a Firehose stream you own. EventBridge
 * delivers as a role made for the rule, allowed only to put events there.
 */
export abstract class KeyEventsDestination {
  /**
   * An EventBridge event bus, of this account or another: the bus's resource policy
   * must let this account put events.
   * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
   */
  public static eventBus(bus: events.IEventBus): KeyEventsDestination {
    return new Destination(bus.eventBusArn, ['events:PutEvents']);
  }

  /** An Amazon Data Firehose stream, which delivers to the SIEM (Splunk, an HTTP endpoint, S3). */
  public static deliveryStream(stream: firehose.IDeliveryStream): KeyEventsDestination {
    return new Destination(stream.deliveryStreamArn, ['firehose:PutRecord', 'firehose:PutRecordBatch']);
  }

  /** @internal */
  public abstract readonly _arn: string;
  /** @internal */
  public abstract readonly _actions: string[];
}

class Destination extends KeyEventsDestination {
  constructor(public readonly _arn: string, public readonly _actions: string[]) {
    super();
  }
}

/** Properties of KeyComplianceEvidence. */
export interface KeyComplianceEvidenceProps {
  /**
   * The audit trail whose CloudTrail log group the saved queries read.
   * @default KeyAuditTrail.of(this): the stack's
   */
  readonly auditTrail?: KeyAuditTrail;
  /**
   * Save the CloudWatch Logs Insights queries on the account's CloudTrail log group,
   * which must be in this stack's account and Region (the trail records every
   * Region's calls in one log group, in the Region of the stack that creates it).
   * Give `false` in the other Regions' stacks.
   * @default true
   */
  readonly savedQueries?: boolean;
  /**
   * The folder of the saved queries in the CloudWatch console (`/` separates folders).
   * @default `kms-key-evidence/<stack name>`
   */
  readonly queryFolder?: string;
  /**
   * Create AWS Config managed rules for the classified keys of the account and
   * Region: rotation enabled, not scheduled for deletion, no public key policy.
   * AWS Config must be recording in the account and Region (CloudFormation fails
   * with `NoAvailableConfigurationRecorderException` otherwise): give `false` where
   * it is not, or where another stack's evidence already makes them.
   * @default true
   */
  readonly configRules?: boolean;
  /**
   * Forward every KMS event that names one of the stack's ClassifiedKeys (use,
   * changes, denied requests) to a SIEM.
   * @default - not forwarded
   */
  readonly forwardEventsTo?: KeyEventsDestination;
}

const EVIDENCE = Symbol.for('cdk-kms-constructs.KeyComplianceEvidence');

/**
 * The compliance evidence of the ClassifiedKeys of a stack, from the library's own
 * audit resources: saved CloudWatch Logs Insights queries (who used which key and
 * through which service, denied requests, policy and grant changes, deletions,
 * rotations, and one usage query per key), AWS Config managed rules scoped to
 * classified keys, and optionally the keys' KMS events forwarded to a SIEM. The key
 * inventory (`kms-key-inventory.json` and `.md` in the cloud assembly) is written
 * for every app with ClassifiedKeys, with or without this construct.
 */
export class KeyComplianceEvidence extends Construct {
  /** The tag the Config rules are scoped by: every ClassifiedKey has it. */
  public static readonly SCOPE_TAG = ClassifiedKey.CLASSIFICATION_TAG;

  /** The saved queries, once the app is complete. */
  public readonly queryDefinitions: logs.CfnQueryDefinition[] = [];
  /** The AWS Config rules (none with `configRules: false`). */
  public readonly configRules: config.ManagedRule[] = [];
  /** The rule that forwards the keys' events, with `forwardEventsTo`. */
  public readonly forwardingRule?: events.Rule;
  /** The folder of the saved queries. */
  public readonly queryFolder: string;
  private readonly auditTrail: KeyAuditTrail;
  private readonly keys: ClassifiedKey[] = [];

  constructor(scope: Construct, id: string, props: KeyComplianceEvidenceProps = {}) {
    super(scope, id);
    allEvidence(this);
    const stack = Stack.of(this);
    this.auditTrail = props.auditTrail ?? KeyAuditTrail.of(this);
    if (Stack.of(this.auditTrail) !== stack) {
      throw new Error(`auditTrail must be a KeyAuditTrail of stack ${stack.stackName}, got ${this.auditTrail.node.path}`);
    }
    this.queryFolder = props.queryFolder ?? `kms-key-evidence/${stack.stackName}`;
    // Room for the longest account query's name under it.
    validateQueryName('queryFolder', this.queryFolder, `${this.queryFolder}/${longest(EVIDENCE_QUERIES.map(q => q.name))}`);
    const savedQueries = props.savedQueries ?? true;
    if (savedQueries) this.saveAccountQueries();
    if (props.configRules ?? true) this.createConfigRules();
    if (props.forwardEventsTo) this.forwardingRule = this.forwardEvents(props.forwardEventsTo);

    // The stack's keys are known once the app is complete, whatever order they were declared in.
    Aspects.of(stack).add(new FindKeys(stack, this, savedQueries), { priority: AspectPriority.MUTATING });
    this.node.addValidation({ validate: () => this.validate(savedQueries, props.configRules ?? true) });
  }

  /**
   * The ClassifiedKeys of the stack that the per-key evidence covers, once the app is
   * complete: the stack's own, not its nested stacks' (give those their own evidence).
   */
  public get coveredKeys(): ClassifiedKey[] {
    return [...this.keys];
  }

  /** @internal */
  public _cover(key: ClassifiedKey, savedQueries: boolean): void {
    if (this.keys.includes(key)) return;
    this.keys.push(key);
    if (!savedQueries) return;
    // The alias's name as declared (the attribute is a reference to the resource).
    const aliasName = (key.alias.node.defaultChild as kms.CfnAlias).aliasName;
    const alias = Token.isUnresolved(aliasName) ? key.node.path : aliasName.replace(/^alias\//, '');
    // An id of the key's own, so that adding or removing another key replaces no query.
    this.saveQuery(`KeyUsage${createHash('sha256').update(key.node.path).digest('hex').slice(0, 8)}`, `key-usage/${alias}`, keyUsageQuery(key.keyArn));
  }

  private saveAccountQueries(): void {
    for (const query of EVIDENCE_QUERIES) {
      this.saveQuery(query.name.split('-').map(w => w[0].toUpperCase() + w.slice(1)).join(''), query.name, query.queryString);
    }
  }

  private saveQuery(id: string, name: string, queryString: string): void {
    let fullName = `${this.queryFolder}/${name}`;
    // A key's alias may be long: its query's name keeps the start and a digest of the rest.
    if (!Token.isUnresolved(fullName) && fullName.length > MAX_QUERY_NAME) {
      fullName = `${fullName.slice(0, MAX_QUERY_NAME - 9)}~${createHash('sha256').update(fullName).digest('hex').slice(0, 8)}`;
    }
    this.queryDefinitions.push(new logs.CfnQueryDefinition(this, id, {
      name: fullName,
      queryString,
      queryLanguage: 'CWLI',
      logGroupNames: Lazy.list({ produce: () => [accountTrailLogGroup(this, this.auditTrail).logGroupName ?? ''] }),
    }));
  }

  private createConfigRules(): void {
    const scope = config.RuleScope.fromTag(KeyComplianceEvidence.SCOPE_TAG);
    const daily = config.MaximumExecutionFrequency.TWENTY_FOUR_HOURS;
    this.configRules.push(
      new config.ManagedRule(this, 'KeyRotationEnabled', {
        identifier: config.ManagedRuleIdentifiers.CMK_BACKING_KEY_ROTATION_ENABLED,
        description: 'Classified KMS keys rotate automatically (PCI DSS 3.7.4)',
        ruleScope: scope,
        maximumExecutionFrequency: daily,
      }),
      new config.ManagedRule(this, 'KeyNotScheduledForDeletion', {
        identifier: config.ManagedRuleIdentifiers.KMS_CMK_NOT_SCHEDULED_FOR_DELETION,
        description: 'Classified KMS keys are not scheduled for deletion (PCI DSS 3.7.5)',
        ruleScope: scope,
        maximumExecutionFrequency: daily,
      }),
      new config.ManagedRule(this, 'KeyPolicyNotPublic', {
        // Not yet among aws-cdk-lib's ManagedRuleIdentifiers.
        // https://docs.aws.amazon.com/config/latest/developerguide/kms-key-policy-no-public-access.html
        identifier: 'KMS_KEY_POLICY_NO_PUBLIC_ACCESS',
        description: 'Classified KMS key policies grant no public access (SOC 2 CC6.1)',
        ruleScope: scope,
      }),
    );
  }

  private forwardEvents(destination: KeyEventsDestination): events.Rule {
    const stack = Stack.of(this);
    // EventBridge delivers as this role, which may only put events to the destination.
    const role = new iam.Role(this, 'ForwardingRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com').withConditions({ StringEquals: { 'aws:SourceAccount': stack.account } }),
      description: 'Delivers the KMS events of the stack\'s classified keys to the SIEM',
    });
    new iam.ManagedPolicy(this, 'ForwardingPolicy', {
      description: 'Puts the forwarded KMS events to the SIEM destination, and nothing else',
      roles: [role],
      statements: [new iam.PolicyStatement({ actions: destination._actions, resources: [destination._arn] })],
    });
    const rule = new events.Rule(this, 'ForwardKeyEvents', {
      description: 'Forwards the KMS events of the stack\'s classified keys to a SIEM',
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail', 'AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          resources: { ARN: Lazy.list({ produce: () => this.keys.map(k => k.keyArn) }) },
        },
      },
      targets: [{ bind: () => ({ arn: destination._arn, role }) }],
    });
    // Cryptographic calls are read-only events, which a rule receives only in this state.
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
    (rule.node.defaultChild as events.CfnRule).state = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
    return rule;
  }

  private validate(savedQueries: boolean, configRules: boolean): string[] {
    const stack = Stack.of(this);
    const errors: string[] = [];
    if (savedQueries) {
      const twin = allEvidence(this)
        .find(e => e !== this && e.queryDefinitions.length > 0 && Stack.of(e) === stack && e.queryFolder === this.queryFolder);
      if (twin && allEvidence(this).indexOf(twin) < allEvidence(this).indexOf(this)) {
        errors.push(`${twin.node.path} already saves its queries in ${this.queryFolder}: give this one another queryFolder, or savedQueries: false`);
      }
      const trail = accountTrailLogGroup(this, this.auditTrail);
      if (trail.logGroupName === undefined) {
        errors.push(`KeyComplianceEvidence saves its queries on the account's CloudTrail log group, which is in ${trail.where}, not in ${stack.stackName}'s `
          + 'account and Region: put the evidence in that stack, pass the trail\'s log group as existingLogGroup of this stack\'s KeyAuditTrail, or give savedQueries: false');
      }
    }
    if (configRules) {
      const others = allEvidence(this).filter(e => e !== this && e.configRules.length > 0 && sameEnvironment(e, this));
      if (others.length > 0 && allEvidence(this).indexOf(others[0]) < allEvidence(this).indexOf(this)) {
        const where = Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region) ? 'its stack' : `account ${stack.account} in ${stack.region}`;
        errors.push(`${others[0].node.path} already makes the Config rules of ${where} (they cover every classified key there): give configRules: false here`);
      }
    }
    return errors;
  }

}

function allEvidence(scope: IConstruct): KeyComplianceEvidence[] {
  const stage = (Stage.of(scope) ?? scope.node.root) as unknown as Record<symbol, KeyComplianceEvidence[] | undefined>;
  if (!stage[EVIDENCE]) Object.defineProperty(stage, EVIDENCE, { value: [], enumerable: false });
  const all = stage[EVIDENCE]!;
  if (scope instanceof KeyComplianceEvidence && !all.includes(scope)) all.push(scope);
  return all;
}

function sameEnvironment(a: IConstruct, b: IConstruct): boolean {
  const [sa, sb] = [Stack.of(a), Stack.of(b)];
  if ([sa.account, sa.region].some(Token.isUnresolved)) return sa === sb;
  return sa.account === sb.account && sa.region === sb.region;
}

/** CloudWatch Logs allows saved query names of 1 to 255 characters. */
const MAX_QUERY_NAME = 255;

/** A folder of saved queries: its queries' names within the limit, no empty folder. */
function validateQueryName(prop: string, folder: string, longestName: string): void {
  if (Token.isUnresolved(folder)) return;
  if (longestName.length > MAX_QUERY_NAME || folder.split('/').some(part => part === '')) {
    throw new Error(`${prop} must leave room for query names of at most ${MAX_QUERY_NAME} characters (${longestName.length} here) and have no empty folder, got "${folder}"`);
  }
}

function longest(names: string[]): string {
  return names.reduce((a, b) => (b.length > a.length ? b : a));
}

/** Finds the stack's ClassifiedKeys once the app is complete. */
class FindKeys implements IAspect {
  constructor(private readonly stack: Stack, private readonly evidence: KeyComplianceEvidence, private readonly savedQueries: boolean) {}

  public visit(node: IConstruct): void {
    if (ClassifiedKey.isClassifiedKey(node) && Stack.of(node) === this.stack) this.evidence._cover(node, this.savedQueries);
  }
}
