/*
 * What every custom-resource handler of the library checks before it changes anything:
 * that the event it was sent is CloudFormation's, for a resource of its own stack that
 * CloudFormation is working on now. Anyone allowed lambda:InvokeFunction on a handler
 * could otherwise send it an event of their own and act with the handler's rights.
 *
 * - The event's stack must be the handler's: the construct gives each function its
 *   stack's ID (`STACK_ID`), and the role may describe that stack only.
 * - CloudFormation must know the event's resource in that stack (DescribeStackResource),
 *   with the handler's resource type, in the state the request implies: being created
 *   for a Create, being updated for an Update, being deleted for a Delete, with the
 *   event's physical ID. A Delete of an earlier physical ID (the resource was replaced)
 *   is taken only while CloudFormation cleans up after an update and its stack events
 *   show it deleting that very physical ID of that resource; the handler then checks
 *   that what it deletes is its own (a key's marker tag, the cluster's stack tag).
 * A forged event is refused before any other AWS call, with a message that says so.
 *
 * What remains: an event forged while CloudFormation is creating or updating that very
 * resource passes, with properties of the forger's choosing (CloudFormation's record
 * has the resource's state, not its resolved properties). The handlers bind what they
 * change to the resource (physical IDs, markers, the stack's own cluster), so the
 * window is one resource's own deployment, and what is changed is that resource.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResource.html
 */
import {
  CloudFormationClient, DescribeStackEventsCommand, DescribeStackResourceCommand, DescribeStacksCommand, StackResourceDetail,
} from '@aws-sdk/client-cloudformation';
import { explainAwsError, isError } from './handler-errors';
import { STACK_ID_VARIABLE } from './resource-types';


/** What of a CloudFormation custom resource event the check reads. */
export interface StackEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType: string;
  readonly PhysicalResourceId?: string;
}

/** Which function of a provider receives the event. */
export type HandlerPhase = 'onEvent' | 'isComplete';

/** What a handler says of its resource. */
export interface VerifyOptions {
  /**
   * The resource keeps its physical ID for life (a custom key store): the wait's Update
   * must name the one CloudFormation records, as onEvent's does.
   */
  readonly stablePhysicalId?: boolean;
}

/** An event the check let through, and what it learned of the stack. */
export interface VerifiedEvent {
  /** CloudFormation's record of the resource. */
  readonly resource: StackResourceDetail;
  /** True for a Delete of an earlier physical ID of the resource (it was replaced). */
  readonly replaced: boolean;
  /** The stack's status, as `UPDATE_ROLLBACK_IN_PROGRESS`. */
  readonly stackStatus: string;
  /** Whether CloudFormation is rolling the stack back (a rollback must not fail again). */
  readonly rollingBack: boolean;
}

/** A refused event: nothing was changed. */
export class ForgedEventError extends Error {}

/** The stack states in which CloudFormation deletes what an update replaced. */
const CLEANUP = new Set(['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS']);
/** The resource states of each request; a rollback's may carry ROLLBACK. */
const IN_PROGRESS = {
  Create: ['CREATE_IN_PROGRESS'],
  Update: ['UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS'],
  Delete: ['DELETE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS'],
};
/** How many pages of stack events a cleanup's Delete is looked for in (newest first). */
const EVENT_PAGES = 5;
/** How often a throttled read is tried before the handler fails. */
const ATTEMPTS = 4;
const backoffMs = () => Number(process.env.EVENT_VERIFICATION_BACKOFF_MS ?? 500);

/**
 * Checks the event against CloudFormation, or throws a ForgedEventError. `resourceType`
 * is the handler's custom resource type, as `Custom::KmsCustomKeyStore`.
 */
export async function verifyEvent(event: StackEvent, resourceType: string, phase: HandlerPhase, options: VerifyOptions = {}): Promise<VerifiedEvent> {
  const ownStack = process.env[STACK_ID_VARIABLE];
  if (!ownStack) {
    throw new Error(`The ${resourceType} handler has no ${STACK_ID_VARIABLE} variable, so it cannot tell its stack's events from others: `
      + 'deploy it with this version of cdk-kms-constructs');
  }
  const refuse = (why: string) => new ForgedEventError(`Refused a ${event.RequestType} event for ${event.LogicalResourceId} `
    + `(${event.PhysicalResourceId ?? 'no physical ID'}): ${why}. The ${resourceType} handler acts only on CloudFormation's events `
    + 'for its own stack\'s resources, and changed nothing');
  if (event.StackId !== ownStack) throw refuse(`it names stack ${event.StackId}, and this handler serves ${ownStack} only`);
  if (event.ResourceType !== resourceType) throw refuse(`it is for a ${event.ResourceType}, not a ${resourceType}`);

  const cloudformation = new CloudFormationClient({});
  try {
    const resource = await describeResource(cloudformation, ownStack, event.LogicalResourceId, refuse);
    if (resource.ResourceType !== resourceType) {
      throw refuse(`${event.LogicalResourceId} is a ${resource.ResourceType} in the stack, not a ${resourceType}`);
    }
    const stackStatus = await describeStackStatus(cloudformation, ownStack);
    const state = resource.ResourceStatus ?? 'no status';
    const samePhysicalId = resource.PhysicalResourceId === event.PhysicalResourceId;
    let replaced = false;
    switch (event.RequestType) {
      case 'Create':
        if (!IN_PROGRESS.Create.includes(state)) throw refuse(`CloudFormation is not creating it (${state})`);
        break;
      case 'Update':
        if (!IN_PROGRESS.Update.includes(state)) throw refuse(`CloudFormation is not updating it (${state})`);
        // The wait may be sent the new physical ID onEvent returned, which
        // CloudFormation learns only at the end, unless the resource keeps its ID.
        if ((phase === 'onEvent' || options.stablePhysicalId) && !samePhysicalId) {
          throw refuse(`its physical ID in the stack is ${resource.PhysicalResourceId ?? 'none'}`);
        }
        break;
      case 'Delete':
        if (IN_PROGRESS.Delete.includes(state) && samePhysicalId) break;
        if (!samePhysicalId && CLEANUP.has(stackStatus)) {
          // CloudFormation's record names the resource's new physical ID; its events
          // say which earlier one it is deleting now.
          if (!(await deletingNow(cloudformation, ownStack, event.LogicalResourceId, event.PhysicalResourceId))) {
            throw refuse(`the stack is cleaning up after an update, but its events show no deletion of ${event.PhysicalResourceId ?? 'that physical ID'} for ${event.LogicalResourceId}`);
          }
          replaced = true;
          break;
        }
        throw refuse(samePhysicalId
          ? `CloudFormation is not deleting it (${state})`
          : `its physical ID in the stack is ${resource.PhysicalResourceId ?? 'none'}, and the stack is not cleaning up after an update`);
    }
    return { resource, replaced, stackStatus, rollingBack: /ROLLBACK/.test(stackStatus) };
  } finally {
    cloudformation.destroy();
  }
}

async function describeResource(
  cloudformation: CloudFormationClient, stackId: string, logicalId: string, refuse: (why: string) => Error,
): Promise<StackResourceDetail> {
  try {
    const { StackResourceDetail: detail } = await withRetries(() => cloudformation.send(new DescribeStackResourceCommand({
      StackName: stackId, LogicalResourceId: logicalId,
    })));
    if (!detail) throw refuse(`CloudFormation knows no resource ${logicalId} in the stack`);
    return detail;
  } catch (error) {
    if (error instanceof ForgedEventError) throw error;
    // CloudFormation answers a logical ID the stack does not have with a ValidationError.
    if (isError(error, 'ValidationError')) throw refuse(`CloudFormation knows no resource ${logicalId} in the stack`);
    throw new Error(`Cannot check the event with CloudFormation (DescribeStackResource ${logicalId}): ${explainAwsError(error, ERRORS)}`);
  }
}

/**
 * Whether the stack's events, since its cleanup began, show CloudFormation deleting
 * this physical ID of this resource (DELETE_IN_PROGRESS is recorded before the
 * custom resource is sent the Delete).
 */
async function deletingNow(
  cloudformation: CloudFormationClient, stackId: string, logicalId: string, physicalId: string | undefined,
): Promise<boolean> {
  let token: string | undefined;
  for (let page = 0; page < EVENT_PAGES; page++) {
    let answer;
    try {
      answer = await withRetries(() => cloudformation.send(new DescribeStackEventsCommand({ StackName: stackId, NextToken: token })));
    } catch (error) {
      throw new Error(`Cannot check the event with CloudFormation (DescribeStackEvents): ${explainAwsError(error, ERRORS)}`);
    }
    for (const stackEvent of answer.StackEvents ?? []) {
      const deleting = stackEvent.ResourceStatus === 'DELETE_IN_PROGRESS';
      if (deleting && stackEvent.LogicalResourceId === logicalId && stackEvent.PhysicalResourceId === physicalId) return true;
      // Newest first: past the start of the cleanup, the deletion is not this one's.
      if (stackEvent.PhysicalResourceId === stackId && CLEANUP.has(stackEvent.ResourceStatus ?? '')) return false;
    }
    token = answer.NextToken;
    if (!token) return false;
  }
  return false;
}

async function describeStackStatus(cloudformation: CloudFormationClient, stackId: string): Promise<string> {
  try {
    const { Stacks: stacks } = await withRetries(() => cloudformation.send(new DescribeStacksCommand({ StackName: stackId })));
    return stacks?.[0]?.StackStatus ?? 'UNKNOWN';
  } catch (error) {
    throw new Error(`Cannot check the event with CloudFormation (DescribeStacks): ${explainAwsError(error, ERRORS)}`);
  }
}

const ERRORS: Record<string, string> = {
  AccessDenied: 'the handler\'s role may not describe its stack (it is allowed to, on its own stack only): check for a service control policy or permissions boundary that denies it',
  AccessDeniedException: 'the handler\'s role may not describe its stack (it is allowed to, on its own stack only): check for a service control policy or permissions boundary that denies it',
  Throttling: 'CloudFormation throttled the call; this is transient, retry the deployment',
  ThrottlingException: 'CloudFormation throttled the call; this is transient, retry the deployment',
};

/** A read retried while CloudFormation throttles it, with exponential backoff. */
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const throttled = isError(error, 'Throttling') || isError(error, 'ThrottlingException');
      if (!throttled || attempt >= ATTEMPTS) throw error;
      await new Promise(resolve => setTimeout(resolve, backoffMs() * 2 ** (attempt - 1)));
    }
  }
}

/**
 * Fails unless the handler's stack has a resource `logicalId` of `type` whose physical
 * ID is `physicalId`: what a handler checks before acting on a resource its custom
 * resource names (the stack's own cluster, say), so that a forged event cannot point
 * it at another.
 */
export async function checkStackResource(event: StackEvent, what: string, logicalId: unknown, type: string, physicalId: string): Promise<void> {
  const refuse = (why: string) => new ForgedEventError(`Refused a ${event.RequestType} event for ${event.LogicalResourceId}: ${what} ${physicalId} `
    + `${why}. The handler acts only on its own stack's resources, and changed nothing`);
  if (typeof logicalId !== 'string' || logicalId === '') throw refuse('is named without the logical ID of its resource in the stack');
  const cloudformation = new CloudFormationClient({});
  try {
    const resource = await describeResource(cloudformation, event.StackId, logicalId, why => refuse(`is not the stack's: ${why}`));
    if (resource.ResourceType !== type || resource.PhysicalResourceId !== physicalId) {
      throw refuse(`is not the stack's ${logicalId} (${resource.ResourceType} ${resource.PhysicalResourceId ?? 'without a physical ID'})`);
    }
  } finally {
    cloudformation.destroy();
  }
}
