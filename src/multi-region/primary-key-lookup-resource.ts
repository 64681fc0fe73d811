import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PrimaryKeyLookupFunction } from './primary-key-lookup-function';
import { HandlerVpcOptions } from '../custom-resources/handler-vpc';
import { providerFor } from '../custom-resources/provider-support';
import { PRIMARY_KEY_LOOKUP_TYPE } from '../custom-resources/resource-types';
import { acknowledgeKeyLookup } from '../nag';

/*
 * The custom resource by which a replica Region's stack learns the ARN of its set's
 * primary key, from the primary stack's output, in the primary's Region; and its handler.
 */

/** The handler that describes a primary through its alias, in the primary's Region. */
const PRIMARY_KEY_LOOKUP = {
  name: 'PrimaryKeyLookup',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new PrimaryKeyLookupFunction(scope, id, options),
  timeout: Duration.minutes(1),
  // It also calls the primary Region's CloudFormation and KMS.
  endpointServices: [],
  callsOtherRegions: true,
};

/** Where a replica's primary key is, and how its lookup runs. */
export interface PrimaryKeyLookupOptions {
  /** The set's partition. */
  readonly partition: string;
  /** The set's account. */
  readonly account: string;
  /** The primary's Region. */
  readonly primaryRegion: string;
  /** The primary's stack, whose output names the primary key. */
  readonly primaryStack: Stack;
  /** The name of that output. */
  readonly outputName: string;
  /** What, changed, replaces the primary (spec, usage and origin), so that the lookup runs again. */
  readonly keyKind: string;
  /** The VPC the lookup's functions run in, in the replica's Region. */
  readonly handlerVpc?: HandlerVpcOptions;
}

/**
 * The primary key's ARN in a replica Region's stack, at deploy time: a custom
 * resource of that stack, `id`, reads it from the primary stack's output.
 */
export function lookUpPrimaryKeyArn(stack: Stack, id: string, options: PrimaryKeyLookupOptions): string {
  const { partition, account, primaryRegion, primaryStack } = options;
  const { provider, handlerPolicy } = providerFor(stack, PRIMARY_KEY_LOOKUP, options.handlerVpc);
  // Read the primary stack's outputs, and describe the key they name, in the primary's Region.
  const primaryKeys = `arn:${partition}:kms:${primaryRegion}:${account}:key/*`;
  const primaryStackArns = `arn:${partition}:cloudformation:${primaryRegion}:${account}:stack/${primaryStack.stackName}/*`;
  handlerPolicy.addStatements(
    new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [primaryStackArns] }),
    new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [primaryKeys] }),
  );
  acknowledgeKeyLookup(handlerPolicy, [primaryKeys, primaryStackArns]);
  const lookup = new CustomResource(stack, id, {
    serviceToken: provider.serviceToken,
    resourceType: PRIMARY_KEY_LOOKUP_TYPE,
    properties: {
      PrimaryRegion: primaryRegion,
      PrimaryStackName: primaryStack.stackName,
      OutputName: options.outputName,
      Account: account,
      KeyKind: options.keyKind,
    },
  });
  return lookup.getAttString('Arn');
}
