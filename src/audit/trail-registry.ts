// The registry of KeyAuditTrails per stage: the default watch of each stack, where
// the account's one trail is created, and the validation of the trails an app
// declares against one another and AWS's quotas.
import { Annotations, AspectPriority, Aspects, IAspect, Stack, Stage, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** CloudWatch Logs allows ten account-level resource policies per account and Region; each watch has one. */
const MAX_WATCHES_PER_REGION = 10;
/** The context key that names the Region where the account's trail is created. */
export const TRAIL_HOME_REGION_CONTEXT = 'cdk-kms-constructs:trailHomeRegion';

/**
 * The trails of each stage (the app, or a Stage), kept on the stage under a global
 * symbol, so that two copies of this library in one app share them.
 */
const TRAILS = Symbol.for('cdk-kms-constructs.KeyAuditTrails.v2');

/** How a KeyAuditTrail stands towards its account's trail. */
export type TrailChoice = 'create' | 'existing' | 'none' | 'default';

/**
 * What the registry reads of a registered trail, whose fields are private to
 * KeyAuditTrail (named here without importing it).
 */
export interface RegisteredTrail extends IConstruct {
  /** The name of the trail it creates or would create. */
  readonly _trailName: string;
  /** Whether `KeyAuditTrail.of` created it for a key. */
  readonly _createdImplicitly: boolean;
  /** What its props say of the account's trail. */
  readonly _trailChoice: TrailChoice;
  /** Whether it creates the account's trail: known once the app is complete. */
  readonly _createsTrail: boolean;
  /** Creates the account's trail in it. */
  _createAccountTrail(): void;
}

/** The trails of one stage. */
export interface TrailRegistry {
  /** The trail each stack's keys attach to: the first declared or created in it. */
  readonly byStack: Map<Stack, RegisteredTrail>;
  /** Every trail of the stage, in the order declared. */
  readonly all: RegisteredTrail[];
}

/** The trails of the scope's stage: stages deploy apart, and no reference crosses them. */
export function registryOf(scope: IConstruct): TrailRegistry {
  const stage: IConstruct = Stage.of(scope) ?? scope.node.root;
  const holder = stage as unknown as Record<symbol, TrailRegistry | undefined>;
  let registry = holder[TRAILS];
  if (!registry) {
    registry = { byStack: new Map(), all: [] };
    Object.defineProperty(holder, TRAILS, { value: registry, enumerable: false });
    Aspects.of(stage).add(new TrailHomes(stage, registry), { priority: AspectPriority.MUTATING });
  }
  return registry;
}

/**
 * The account a trail belongs to, for its one trail: its stack's account, or, when
 * that is unresolved, the stack itself (an environment-agnostic stack may deploy
 * anywhere, so it shares nothing).
 */
function accountOf(trail: IConstruct): string {
  const stack = Stack.of(trail);
  return Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region) ? `stack:${stack.node.path}` : stack.account;
}

function resolvedEnvironment(stack: Stack): string | undefined {
  return Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region) ? undefined : `${stack.account}/${stack.region}`;
}

/**
 * Where each account's trail is created, once the app is complete, so that the
 * choice depends on the stacks, never on the order they were written in: nowhere,
 * if a KeyAuditTrail of the account creates one by `createTrail: true` or attaches
 * to one by `existingLogGroup`; otherwise in the KeyAuditTrail (not given
 * `createTrail: false`) of the account's trail home Region (the context value
 * `cdk-kms-constructs:trailHomeRegion`, or else the first Region in alphabetical
 * order), in the stack whose name comes first.
 */
function trailHomes(trails: RegisteredTrail[], homeRegion?: string): RegisteredTrail[] {
  const byAccount = new Map<string, RegisteredTrail[]>();
  for (const trail of trails) byAccount.set(accountOf(trail), [...byAccount.get(accountOf(trail)) ?? [], trail]);
  const homes: RegisteredTrail[] = [];
  for (const members of byAccount.values()) {
    if (members.some(t => t._trailChoice === 'create' || t._trailChoice === 'existing')) continue;
    const candidates = members.filter(t => t._trailChoice === 'default').map(t => ({
      trail: t,
      key: [Stack.of(t).region === homeRegion ? 0 : 1, Stack.of(t).region, Stack.of(t).stackName, t.node.path] as const,
    }));
    candidates.sort((a, b) => compareKeys(a.key, b.key));
    if (candidates.length > 0) homes.push(candidates[0].trail);
  }
  return homes;
}

function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

/** Creates each account's trail in its home, before the app is validated. */
class TrailHomes implements IAspect {
  private done = false;

  constructor(private readonly stage: IConstruct, private readonly registry: TrailRegistry) {}

  public visit(node: IConstruct): void {
    if (this.done || node !== this.stage) return;
    this.done = true;
    const homeRegion = this.stage.node.tryGetContext(TRAIL_HOME_REGION_CONTEXT);
    if (homeRegion !== undefined && (typeof homeRegion !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(homeRegion))) {
      throw new Error(`the context value ${TRAIL_HOME_REGION_CONTEXT} must be a Region name such as "us-east-1", got ${JSON.stringify(homeRegion)}`);
    }
    for (const home of trailHomes(this.registry.all, homeRegion)) home._createAccountTrail();
  }
}

/**
 * Trails that would collide or exceed AWS's quotas: a trail declared in a stack after
 * the one a key created there, two trails of one account, two trails of one name,
 * more watches in an account and Region than CloudWatch Logs has resource policies.
 */
export function validateTrails(trail: RegisteredTrail): string[] {
  const stack = Stack.of(trail);
  const registry = registryOf(trail);
  const errors: string[] = [];
  const first = registry.byStack.get(stack)!;
  if (first !== trail && first._createdImplicitly) {
    errors.push(`a KeyAuditTrail was declared in ${stack.stackName} after a ClassifiedKey created the stack's default one (${first.node.path}): declare it before the keys, or pass it to them as auditTrail`);
  }
  const creating = registry.all.filter(t => t._createsTrail && accountOf(t) === accountOf(trail));
  if (trail._createsTrail && creating.length > 1 && creating[0] === trail) {
    errors.push(`${creating.length} KeyAuditTrails create a trail in account ${stack.account} (${creating.map(t => t.node.path).join(', ')}): an account needs one multi-Region trail, which every Region's watch uses; give createTrail: true to one only`);
  }
  const sameName = creating.find(t => t !== trail && t._trailName === trail._trailName && !Token.isUnresolved(trail._trailName));
  if (trail._createsTrail && sameName) {
    errors.push(`a KeyAuditTrail named "${trail._trailName}" is declared twice (${sameName.node.path} and ${trail.node.path}): CloudTrail names and log groups must be unique, give one another trailName`);
  }
  const environment = resolvedEnvironment(stack);
  const watches = environment ? registry.all.filter(t => resolvedEnvironment(Stack.of(t)) === environment) : [];
  if (watches.length > MAX_WATCHES_PER_REGION && watches[0] === trail) {
    errors.push(`${watches.length} KeyAuditTrails watch account ${stack.account} in ${stack.region} (${watches.map(t => t.node.path).join(', ')}), and each needs one of the ${MAX_WATCHES_PER_REGION} CloudWatch Logs resource policies of the account and Region: pass one stack's auditTrail to the keys of the others`);
  }
  return errors;
}

/**
 * Environment-agnostic stacks each create their own trail, since their account is
 * unknown; deployed to one account, they would record its events more than once.
 */
export function warnAgnosticTrails(trail: RegisteredTrail): void {
  const registry = registryOf(trail);
  const agnostic = registry.all.filter(t => t._createsTrail && accountOf(t).startsWith('stack:'));
  if (agnostic.length > 1 && agnostic[0] === trail) {
    Annotations.of(trail).addWarningV2('cdk-kms-constructs:agnosticTrails',
      `${agnostic.length} stacks without an account or Region each create a KMS audit trail (${agnostic.map(t => Stack.of(t).stackName).join(', ')}): deployed to one account, it would record every management event ${agnostic.length} times. Set env on the stacks (one trail per account then), or give createTrail: false to the KeyAuditTrail of all but one`);
  }
}

/** Where the account's CloudTrail log group is, as a KeyComplianceEvidence of the scope's stack can reach it. */
export interface AccountTrailLogGroup {
  /** The log group's name, when it is in the scope's account and Region. */
  readonly logGroupName?: string;
  /** Where it is, for an error that says so: a stack and Region, or nowhere. */
  readonly where: string;
}

/**
 * The log group of the account's trail, once the app is complete (the trail homes
 * are chosen by then): the scope's own KeyAuditTrail's, or that of the KeyAuditTrail
 * of the same account and Region that creates the trail, named as `createTrail`
 * names it, so that no stack references another.
 */
export function accountTrailLogGroup(scope: IConstruct, own: { trailLogGroup?: { logGroupName: string } }): AccountTrailLogGroup {
  const stack = Stack.of(scope);
  if (own.trailLogGroup) return { logGroupName: own.trailLogGroup.logGroupName, where: stack.stackName };
  const creating = registryOf(scope).all.find(t => t._createsTrail && accountOf(t) === accountOf(scope));
  if (!creating) return { where: 'nowhere in this app (the account\'s trail is not one of its KeyAuditTrails)' };
  const home = Stack.of(creating);
  return home.region === stack.region && !Token.isUnresolved(stack.region)
    ? { logGroupName: trailLogGroupName(creating._trailName), where: home.stackName }
    : { where: `${home.stackName} (${home.region})` };
}

/** The log group a trail the library creates delivers to. */
export function trailLogGroupName(trailName: string): string {
  return `/aws/cloudtrail/${trailName}`;
}
