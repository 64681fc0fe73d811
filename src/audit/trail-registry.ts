// The registry of KeyAuditTrails per stage, account and Region, and the validation
// of the trails an app declares against one another and AWS's quota.
import { Stack, Stage, Token, TokenComparison } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** AWS allows five trails per account and Region. */
const MAX_TRAILS_PER_REGION = 5;

/**
 * The trails by account and Region of each stage (the app, or a Stage), kept on the
 * stage under a global symbol, so that two copies of this library in one app share
 * them.
 */
const TRAILS = Symbol.for('cdk-kms-constructs.KeyAuditTrails');

/** The trails of one stage, of type `T` (KeyAuditTrail, named here without importing it). */
export interface TrailRegistry<T extends IConstruct> {
  /** The trail keys of an account and Region attach to: the first declared or created. */
  readonly byEnvironment: Map<string, T>;
  /** Every trail of the app, in the order declared. */
  readonly all: T[];
}

/**
 * What the validation reads of a registered trail, whose fields are private to
 * KeyAuditTrail.
 */
export interface RegisteredTrail {
  /** The name of the trail it creates; undefined when it attaches to an existing log group. */
  readonly trailName?: string;
  /** Whether `KeyAuditTrail.of` created it for a key. */
  readonly createdImplicitly: boolean;
}

/** The trails of the scope's stage: stages deploy apart, and no reference crosses them. */
export function registryOf<T extends IConstruct>(scope: IConstruct): TrailRegistry<T> {
  const holder = (Stage.of(scope) ?? scope.node.root) as unknown as Record<symbol, TrailRegistry<T> | undefined>;
  let registry = holder[TRAILS];
  if (!registry) {
    registry = { byEnvironment: new Map(), all: [] };
    Object.defineProperty(holder, TRAILS, { value: registry, enumerable: false });
  }
  return registry;
}

/** The account and Region of a stack, as the key of its trail. */
export function environmentOf(stack: Stack): string {
  return `${stack.account}/${stack.region}`;
}

/**
 * Trails that would collide or exceed AWS's quota: a trail declared after the one a
 * key created for the same account and Region, two trails of one name, more
 * trails in an account and Region than AWS allows.
 */
export function validateTrails<T extends IConstruct>(trail: T, registered: (t: T) => RegisteredTrail): string[] {
  const stack = Stack.of(trail);
  const environment = environmentOf(stack);
  const registry = registryOf<T>(trail);
  const trailName = registered(trail).trailName;
  const errors: string[] = [];
  const first = registry.byEnvironment.get(environment)!;
  if (first !== trail && registered(first).createdImplicitly) {
    errors.push(`a KeyAuditTrail was declared after a ClassifiedKey created the default one of account ${stack.account} and Region ${stack.region} (${first.node.path}): declare it before the keys, or pass it to them as auditTrail`);
  }
  const created = registry.all.filter(t => registered(t).trailName !== undefined && environmentOf(Stack.of(t)) === environment);
  const sameName = created.find(t => t !== trail && registered(t).trailName === trailName && !Token.isUnresolved(trailName!));
  if (trailName !== undefined && sameName) {
    errors.push(`a KeyAuditTrail named "${trailName}" is declared twice (${sameName.node.path} and ${trail.node.path}): CloudTrail names and log groups must be unique, give one another trailName or share one trail`);
  }
  // Every created trail is multi-Region, and a multi-Region trail counts against the
  // quota of every Region: count the account's trails, whatever their home Region.
  // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html
  const inAccount = registry.all.filter(t => registered(t).trailName !== undefined
    && Token.compareStrings(Stack.of(t).account, stack.account) !== TokenComparison.DIFFERENT);
  if (inAccount.length > MAX_TRAILS_PER_REGION && inAccount[0] === trail) {
    const regions = Array.from(new Set(inAccount.map(t => Stack.of(t).region)));
    errors.push(`${inAccount.length} KeyAuditTrails create multi-Region trails in account ${stack.account} (${inAccount.map(t => t.node.path).join(', ')}${regions.length > 1 ? `, in ${regions.join(', ')}` : ''}), and each counts in every Region against the ${MAX_TRAILS_PER_REGION} AWS allows: let the keys share one (KeyAuditTrail.of does by default, one per Region), pass auditTrail, or attach to your organization's trail with existingLogGroup`);
  }
  return errors;
}
