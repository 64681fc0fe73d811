/*
 * The example app's stack: a payments platform whose keys are all ClassifiedKeys, used
 * by the usual AWS consumers. example/app.ts synthesizes it; the tests check what the
 * library adds to it against cdk-nag and Control Tower's proactive controls.
 */
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as eventbridge from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ClassifiedKey, DataClassification, KeyComplianceEvidence, KeyEventsDestination, KeyGrant, KeyGrantOperation } from '../src';

export class PaymentsPlatform extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const ledgerWriter = new iam.Role(this, 'LedgerWriter', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const reporting = new iam.Role(this, 'Reporting', { assumedBy: new iam.AccountRootPrincipal() });

    // Cardholder data: only through S3 and DynamoDB, administrators with MFA.
    const payments = new ClassifiedKey(this, 'PaymentsKey', {
      classification: DataClassification.RESTRICTED,
      alias: 'alias/payments/cardholder-data',
      viaServices: ['s3', 'dynamodb'],
      owner: 'payments-team',
      complianceScopes: ['pci-dss'],
    });
    const ledger = new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: payments,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    });
    ledger.grantReadWriteData(ledgerWriter);
    const statements = new s3.Bucket(this, 'Statements', {
      encryptionKey: payments,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
    });
    statements.grantRead(reporting);

    // Customer records: confidential, used by the application's queue.
    const customers = new ClassifiedKey(this, 'CustomerKey', {
      classification: DataClassification.CONFIDENTIAL,
      alias: 'alias/customers/records',
      owner: 'crm-team',
      complianceScopes: ['gdpr'],
    });
    const events = new sqs.Queue(this, 'CustomerEvents', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: customers,
      enforceSSL: true,
    });
    events.grantSendMessages(ledgerWriter);
    // The CRM's workers, hundreds of functions deployed by their own pipelines, read
    // the records: every role under /crm/workers/ by one key policy statement.
    customers.grantDecrypt(ClassifiedKey.rolesUnderPath('/crm/workers/'));

    // The same key for the CRM's credentials, logs and alarms: the key policy names
    // the reader of the secret, CloudWatch Logs for this log group, and CloudWatch
    // alarms for the encrypted topic, learned from the resources themselves.
    const crmToken = new secretsmanager.Secret(this, 'CrmApiToken', { encryptionKey: customers });
    crmToken.grantRead(ledgerWriter);
    // The on-call engineer may read the CRM token for one shift, through a grant that
    // only decrypts that secret (Secrets Manager names it in the encryption context).
    new KeyGrant(this, 'OnCallCrmToken', {
      key: customers,
      grantee: iam.Role.fromRoleArn(this, 'OnCall', `arn:${this.partition}:iam::${this.account}:role/OnCallEngineer`),
      operations: [KeyGrantOperation.DECRYPT],
      encryptionContextSubset: { SecretARN: crmToken.secretArn },
      expiresAfter: Duration.hours(12),
    });
    new logs.LogGroup(this, 'CrmLogs', {
      logGroupName: '/payments/crm',
      encryptionKey: customers,
      retention: logs.RetentionDays.ONE_YEAR,
    });
    const operations = new sns.Topic(this, 'Operations', { masterKey: customers, enforceSSL: true });
    events.metricApproximateAgeOfOldestMessage()
      .createAlarm(this, 'CustomerEventsBacklog', { threshold: 300, evaluationPeriods: 3 })
      .addAlarmAction(new cloudwatchActions.SnsAction(operations));

    // Internal: signing of generated statements with an asymmetric key.
    const signing = new ClassifiedKey(this, 'StatementSigning', {
      classification: DataClassification.INTERNAL,
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      owner: 'payments-team',
    });
    signing.grantSign(ledgerWriter);
    signing.grantVerify(reporting);

    // Confidential: HMAC of session tokens; default alias.
    new ClassifiedKey(this, 'SessionTokens', {
      classification: DataClassification.CONFIDENTIAL,
      keySpec: kms.KeySpec.HMAC_256,
      owner: 'identity-team',
    });

    // Public: integrity of published price lists, keys from a partner HSM (BYOK).
    new ClassifiedKey(this, 'PriceLists', {
      classification: DataClassification.PUBLIC,
      importKeyMaterial: true,
    });

    // What the auditors ask for (README, "Compliance evidence"): saved queries on the
    // account's trail, AWS Config rules, and every KMS event of these keys forwarded to
    // the security account's SIEM bus (an example account).
    new KeyComplianceEvidence(this, 'Evidence', {
      forwardEventsTo: KeyEventsDestination.eventBus(eventbridge.EventBus.fromEventBusArn(this, 'SiemBus',
        `arn:${this.partition}:events:${this.region}:222222222222:event-bus/security-siem`)),
    });
  }
}
