// The stack `npx cdk deploy` deploys: the CloudTable construct, an SNS topic
// its alarms notify, and outputs in the form mail hosts and operators use.

import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { CloudTable, type CloudTableProps } from './cloudtable.js';
import { adminToml, upstreamToml } from './proxy-config.js';

export interface CloudTableStackProps extends StackProps, Omit<CloudTableProps, 'alarmActions'> {
  /** Subscribed to the alarm topic (AWS mails a confirmation link first). */
  alarmEmail?: string;
}

export class CloudTableStack extends Stack {
  readonly cloudTable: CloudTable;
  readonly alarmTopic: Topic;

  constructor(scope: Construct, id: string, props: CloudTableStackProps = {}) {
    super(scope, id, { description: 'cloudtable: mail lookup tables in DynamoDB behind Lambda Function URLs', ...props });

    // Not encrypted: notifications carry alarm names and metric values, no
    // table data, and CloudWatch cannot publish to a topic encrypted with the
    // AWS-managed SNS key (a customer-managed key costs more than an idle deployment).
    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'cloudtable alarms', enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    this.cloudTable = new CloudTable(this, 'CloudTable', { ...props, alarmActions: [new SnsAction(this.alarmTopic)] });
    const { table, reader, admin, mailHostPolicy, operatorPolicy } = this.cloudTable;

    new CfnOutput(this, 'ReaderUrl', { description: 'upstream.url of the mail hosts: the reader Function URL (AWS_IAM)', value: reader.url.url });
    new CfnOutput(this, 'Region', { description: 'upstream.region of the mail hosts', value: this.region });
    new CfnOutput(this, 'TableName', { description: 'the DynamoDB table', value: table.tableName });
    new CfnOutput(this, 'AdminUrl', { description: 'the admin Function URL (AWS_IAM) for cloudtable load, show, rollback, status', value: admin.url.url });
    new CfnOutput(this, 'MailHostPolicyArn', { description: 'attach to each mail host role or user: invoke the reader URL only', value: mailHostPolicy.managedPolicyArn });
    new CfnOutput(this, 'OperatorPolicyArn', { description: 'attach to each operator role or user: invoke the admin and reader URLs only', value: operatorPolicy.managedPolicyArn });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'SNS topic the alarms notify; subscribe to it', value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'ProxyConfig', {
      description: 'paste into /etc/cloudtable/cloudtable.toml on each mail host',
      value: upstreamToml(reader.url.url, this.region),
    });
    new CfnOutput(this, 'AdminConfig', {
      description: "add to an operator's cloudtable.toml, after ProxyConfig",
      value: adminToml(admin.url.url, this.region),
    });
  }
}
