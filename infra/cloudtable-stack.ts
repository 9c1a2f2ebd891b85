// The stack `npx cdk deploy` deploys in the home region: the CloudTable
// construct, an SNS topic its alarms notify, and outputs in the form mail
// hosts and operators use (with several regions, ProxyConfig lists the
// reader of every region).

import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { createAlarmTopic } from './alarm-topic.js';
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
    const { topic, action } = createAlarmTopic(this, props.alarmEmail);
    this.alarmTopic = topic;

    this.cloudTable = new CloudTable(this, 'CloudTable', { ...props, alarmActions: [action] });
    const { table, reader, admin, mailHostPolicy, operatorPolicy, endpoints } = this.cloudTable;

    new CfnOutput(this, 'ReaderUrl', { description: 'upstream.url of the mail hosts: the reader Function URL (AWS_IAM)', value: reader.url.url });
    new CfnOutput(this, 'Region', { description: 'upstream.region of the mail hosts', value: this.region });
    new CfnOutput(this, 'TableName', { description: 'the DynamoDB table', value: table.tableName });
    new CfnOutput(this, 'AdminUrl', { description: 'the admin Function URL (AWS_IAM) for cloudtable load, show, rollback, status', value: admin.url.url });
    new CfnOutput(this, 'MailHostPolicyArn', { description: 'attach to each mail host role or user: invoke the reader URL only', value: mailHostPolicy.managedPolicyArn });
    new CfnOutput(this, 'OperatorPolicyArn', { description: 'attach to each operator role or user: invoke the admin and reader URLs only', value: operatorPolicy.managedPolicyArn });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'SNS topic the alarms notify; subscribe to it', value: topic.topicArn });
    new CfnOutput(this, 'ProxyConfig', {
      description: 'paste into /etc/cloudtable/cloudtable.toml on each mail host',
      value: upstreamToml(endpoints.map((e) => ({ url: e.reader.url.url, region: e.region }))),
    });
    new CfnOutput(this, 'AdminConfig', {
      description: "add to an operator's cloudtable.toml, after ProxyConfig",
      value: adminToml(admin.url.url, this.region),
    });
  }
}
