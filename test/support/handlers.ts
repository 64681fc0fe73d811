/*
 * What the handler tests share: the CloudFormation event a handler is called with,
 * an AWS SDK error as the SDK throws it (its name is the service's exception), and
 * the error a call fails with.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** A custom resource of a test: what CloudFormation names in the events it sends. */
export interface TestResource {
  readonly resourceType: string;
  readonly logicalId: string;
  /** The properties, ServiceToken included, as the construct writes them. */
  readonly properties: Record<string, unknown> & { readonly ServiceToken: string };
  /** The physical ID Update and Delete name. */
  readonly physicalId: string;
  /** @default a stack in us-east-1 of account 111111111111 */
  readonly stackId?: string;
}

/**
 * The event CloudFormation sends for the resource: Update and Delete name its
 * physical ID and old properties (the same ones unless `extra` says otherwise).
 */
export function customResourceEvent(
  resource: TestResource, type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {},
): CloudFormationCustomResourceEvent {
  return {
    RequestType: type,
    ServiceToken: resource.properties.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: resource.stackId ?? 'arn:aws:cloudformation:us-east-1:111111111111:stack/Test/guid',
    RequestId: 'request',
    LogicalResourceId: resource.logicalId,
    ResourceType: resource.resourceType,
    ResourceProperties: resource.properties,
    ...(type === 'Create' ? {} : { PhysicalResourceId: resource.physicalId, OldResourceProperties: resource.properties }),
    ...extra,
  } as CloudFormationCustomResourceEvent;
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
