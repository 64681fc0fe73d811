/*
 * What the handler tests share: the CloudFormation event a handler is called with,
 * CloudFormation's record of the stack that vouches for it, an AWS SDK error as the
 * SDK throws it (its name is the service's exception), and the error a call fails with.
 */
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';

/** The stack of the tests' handlers: each handler is given its stack's ID, as the construct does. */
export const STACK_ID = 'arn:aws:cloudformation:us-east-1:111111111111:stack/Test/guid';
process.env.STACK_ID = STACK_ID;
process.env.EVENT_VERIFICATION_BACKOFF_MS = '0';

/** A custom resource of a test: what CloudFormation names in the events it sends. */
export interface TestResource {
  readonly resourceType: string;
  readonly logicalId: string;
  /** The properties, ServiceToken included, as the construct writes them. */
  readonly properties: Record<string, unknown> & { readonly ServiceToken: string };
  /** The physical ID Update and Delete name. */
  readonly physicalId: string;
}

/** The last event made: what the mocked CloudFormation of `stackRecord` vouches for. */
let lastEvent: CloudFormationCustomResourceEvent | undefined;

/** The state CloudFormation reports for a resource while it sends each request type. */
const IN_PROGRESS = { Create: 'CREATE_IN_PROGRESS', Update: 'UPDATE_IN_PROGRESS', Delete: 'DELETE_IN_PROGRESS' } as const;

/** What the mocked CloudFormation reports, beyond what the last event implies. */
export interface StackRecordOptions {
  /** The stack's status. @default the request type's *_IN_PROGRESS */
  readonly stackStatus?: string;
  /** Other resources of the stack, by logical ID, as `{ type, physicalId }` (or the physical ID for the last event). */
  readonly resources?: Record<string, {
    readonly type: string;
    readonly physicalId: string | ((event: CloudFormationCustomResourceEvent) => string);
  }>;
}

/** The stack's CloudHSM cluster, `Cluster`: the one the event's properties name (tests of a forged cluster say otherwise). */
export const STACK_CLUSTER = { Cluster: { type: 'AWS::CloudHSM::Cluster', physicalId: (event: CloudFormationCustomResourceEvent) => String(event.ResourceProperties.ClusterId) } };

/** The mocked CloudFormation client of a test file (one per file: the SDK class is mocked once). */
export function mockCloudFormation(): AwsStub<any, any, any> {
  return mockClient(CloudFormationClient);
}

/**
 * Has the mocked CloudFormation keep a record of the stack that matches the last event
 * made with `customResourceEvent`: the event's resource exists with its type and
 * physical ID, in the state its request implies; the stack is the handlers' own.
 */
export function stackRecord(cloudformation: AwsStub<any, any, any>, options: StackRecordOptions = {}): void {
  cloudformation.on(DescribeStackResourceCommand).callsFake(input => {
    const event = lastEvent!;
    const other = options.resources?.[input.LogicalResourceId];
    if (other) {
      const physicalId = typeof other.physicalId === 'string' ? other.physicalId : other.physicalId(event);
      return { StackResourceDetail: { LogicalResourceId: input.LogicalResourceId, ResourceType: other.type, PhysicalResourceId: physicalId, ResourceStatus: 'CREATE_COMPLETE' } };
    }
    if (input.StackName !== STACK_ID || input.LogicalResourceId !== event.LogicalResourceId) {
      throw Object.assign(new Error(`Resource ${input.LogicalResourceId} does not exist for stack ${input.StackName}`), { name: 'ValidationError' });
    }
    return {
      StackResourceDetail: {
        LogicalResourceId: event.LogicalResourceId,
        ResourceType: event.ResourceType,
        ResourceStatus: IN_PROGRESS[event.RequestType],
        PhysicalResourceId: event.RequestType === 'Create' ? undefined : (event as { PhysicalResourceId: string }).PhysicalResourceId,
      },
    };
  });
  cloudformation.on(DescribeStacksCommand, { StackName: STACK_ID }).callsFake(() => ({
    Stacks: [{ StackId: STACK_ID, StackName: 'Test', StackStatus: options.stackStatus ?? IN_PROGRESS[lastEvent!.RequestType], CreationTime: new Date() }],
  }));
}

/**
 * The event CloudFormation sends for the resource: Update and Delete name its
 * physical ID and old properties (the same ones unless `extra` says otherwise).
 */
export function customResourceEvent(
  resource: TestResource, type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {},
): CloudFormationCustomResourceEvent {
  lastEvent = {
    RequestType: type,
    ServiceToken: resource.properties.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: STACK_ID,
    RequestId: 'request',
    LogicalResourceId: resource.logicalId,
    ResourceType: resource.resourceType,
    ResourceProperties: resource.properties,
    ...(type === 'Create' ? {} : { PhysicalResourceId: resource.physicalId, OldResourceProperties: resource.properties }),
    ...extra,
  } as CloudFormationCustomResourceEvent;
  return lastEvent;
}

/** An AWS SDK v3 service error of this name, as the client throws it. */
export function awsError(name: string, message = `${name} from AWS`): Error {
  return Object.assign(new Error(message), { name, $fault: 'client' });
}

/** The error a call fails with; a call that succeeds fails the test. */
export async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}
