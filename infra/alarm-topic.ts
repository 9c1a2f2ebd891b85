// The SNS topic a stack's alarms notify (alarms can only notify a topic of
// their own region, so each region's stack has one), with an optional
// e-mail subscription.

import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';

export function createAlarmTopic(scope: Construct, alarmEmail: string | undefined): { topic: Topic; action: SnsAction } {
  // Not encrypted: notifications carry alarm names and metric values, no
  // table data, and CloudWatch cannot publish to a topic encrypted with the
  // AWS-managed SNS key (a customer-managed key costs more than an idle deployment).
  const topic = new Topic(scope, 'AlarmTopic', { displayName: 'cloudtable alarms', enforceSSL: true });
  if (alarmEmail) topic.addSubscription(new EmailSubscription(alarmEmail));
  return { topic, action: new SnsAction(topic) };
}
