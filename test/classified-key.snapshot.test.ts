import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ClassifiedKey, DataClassification } from '../src';
import { newStack } from './support/stack';

/*
 * One snapshot per classification. A change to what the construct emits shows up
 * here as a diff; one that would replace a key (spec, usage, origin, logical id)
 * is visible in it before anyone deploys.
 */
describe('snapshots', () => {
  test.each(Object.values(DataClassification))('%s key', (classification) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', {
      classification,
      owner: 'platform-security',
      complianceScopes: ['pci-dss'],
      viaServices: classification === DataClassification.RESTRICTED ? ['s3', 'dynamodb'] : undefined,
      encryptionContextKeys: classification === DataClassification.RESTRICTED ? ['tenant'] : undefined,
    });
    key.grantDecrypt(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
  });
});
